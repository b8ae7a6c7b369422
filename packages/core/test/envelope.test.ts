import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  assertMessageName,
  assertPayload,
  createEnvelope,
  createMessageId,
  describeValue,
  envelopeBody,
  MAX_ID_LENGTH,
  MAX_NAME_LENGTH,
  parseEnvelope,
} from '../src/envelope.js'
import { ErrorCodes, InvalidArgumentError, ProtocolError } from '../src/errors.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

test('createMessageId returns a new UUID v4 on every call', () => {
  const ids = new Set(Array.from({ length: 100 }, () => createMessageId()))
  assert.equal(ids.size, 100)
  for (const id of ids) assert.match(id, UUID)
})

test('createEnvelope sets name, a fresh id and the sender', () => {
  const first = createEnvelope('users.create', 'web', { name: 'Will' })
  const second = createEnvelope('users.create', 'web', { name: 'Will' })
  assert.deepEqual(first, {
    name: 'users.create',
    id: first.id,
    sender: 'web',
    payload: { name: 'Will' },
  })
  assert.match(first.id, UUID)
  assert.notEqual(first.id, second.id)
})

test('createEnvelope leaves out the payload key for undefined and null', () => {
  for (const payload of [undefined, null]) {
    const envelope = createEnvelope('hello', 'web', payload)
    assert.equal(Object.hasOwn(envelope, 'payload'), false, `payload ${payload}`)
    assert.deepEqual(Object.keys(envelope).sort(), ['id', 'name', 'sender'])
  }
})

test("createEnvelope keeps falsy and empty payloads: '', 0, false, [] and {}", () => {
  for (const payload of ['', 0, false, [], {}]) {
    const envelope = createEnvelope('hello', 'web', payload)
    assert.equal(Object.hasOwn(envelope, 'payload'), true, `payload ${JSON.stringify(payload)}`)
    assert.deepEqual(envelope.payload, payload)
  }
})

test('createEnvelope sets responseTo only when it is given', () => {
  assert.equal(Object.hasOwn(createEnvelope('users.create', 'web', 1), 'responseTo'), false)
  const reply = createEnvelope('users.created', 'users', 1, 'the-request-id')
  assert.equal(reply.responseTo, 'the-request-id')
})

test('envelopeBody is everything but the name, which travels in the URL', () => {
  const envelope = createEnvelope('users.created', 'users', { id: 1 }, 'request-id')
  assert.deepEqual(envelopeBody(envelope), {
    id: envelope.id,
    sender: 'users',
    payload: { id: 1 },
    responseTo: 'request-id',
  })
  assert.equal(Object.hasOwn(envelope, 'name'), true, 'the envelope itself is left alone')
})

test('parseEnvelope reads a complete body into an envelope', () => {
  const envelope = parseEnvelope('users.created', {
    id: 'reply-id',
    sender: 'users',
    payload: { id: 456 },
    responseTo: 'request-id',
  })
  assert.deepEqual(envelope, {
    name: 'users.created',
    id: 'reply-id',
    sender: 'users',
    payload: { id: 456 },
    responseTo: 'request-id',
  })
})

test('parseEnvelope accepts a body without sender, as ExoCom delivers it', () => {
  const envelope = parseEnvelope('hello', { id: '1', payload: 'world' })
  assert.deepEqual(envelope, { name: 'hello', id: '1', payload: 'world' })
  assert.equal(Object.hasOwn(envelope, 'sender'), false)
})

test('parseEnvelope ignores a sender that is not a string', () => {
  const envelope = parseEnvelope('hello', { id: '1', sender: 42 })
  assert.equal(Object.hasOwn(envelope, 'sender'), false)
})

test('parseEnvelope keeps falsy payloads and drops null ones', () => {
  for (const payload of ['', 0, false, [], {}]) {
    assert.deepEqual(parseEnvelope('hello', { id: '1', payload }).payload, payload)
  }
  assert.equal(Object.hasOwn(parseEnvelope('hello', { id: '1', payload: null }), 'payload'), false)
  assert.equal(Object.hasOwn(parseEnvelope('hello', { id: '1' }), 'payload'), false)
})

test('parseEnvelope rejects a missing or empty id with MISSING_ID', () => {
  for (const body of [{}, { id: '' }, { id: null }, { payload: 1 }]) {
    assert.throws(
      () => parseEnvelope('hello', body),
      (error: unknown) =>
        error instanceof ProtocolError &&
        error.code === ErrorCodes.MISSING_ID &&
        error.message === 'missing message id',
      JSON.stringify(body),
    )
  }
})

test('parseEnvelope rejects a missing body like a body without id, with MISSING_ID', () => {
  for (const body of [undefined, null]) {
    assert.throws(() => parseEnvelope('hello', body), { code: ErrorCodes.MISSING_ID })
  }
})

test('parseEnvelope rejects an id that is a number, an object or too long with INVALID_MESSAGE', () => {
  const tooLong = 'x'.repeat(300)
  for (const id of [42, { value: 'x' }, ['x'], true, tooLong]) {
    assert.throws(
      () => parseEnvelope('hello', { id }),
      (error: unknown) =>
        error instanceof ProtocolError && error.code === ErrorCodes.INVALID_MESSAGE,
      String(id),
    )
  }
  assert.equal(parseEnvelope('hello', { id: 'x'.repeat(MAX_ID_LENGTH) }).id.length, MAX_ID_LENGTH)
})

test('parseEnvelope rejects a responseTo that is not a short string with INVALID_MESSAGE', () => {
  for (const responseTo of [42, '', {}, 'x'.repeat(MAX_ID_LENGTH + 1)]) {
    assert.throws(() => parseEnvelope('hello', { id: '1', responseTo }), {
      code: ErrorCodes.INVALID_MESSAGE,
    })
  }
  assert.equal(
    Object.hasOwn(parseEnvelope('hello', { id: '1', responseTo: null }), 'responseTo'),
    false,
  )
})

test('parseEnvelope rejects a body that is an array or a primitive with INVALID_MESSAGE', () => {
  for (const body of [[{ id: '1' }], 'id', 42, true]) {
    assert.throws(() => parseEnvelope('hello', body), {
      name: 'ProtocolError',
      code: ErrorCodes.INVALID_MESSAGE,
    })
  }
})

test("parseEnvelope rejects an empty or overlong name with UNKNOWN_MESSAGE and the original's text", () => {
  assert.throws(() => parseEnvelope('', { id: '1' }), {
    code: ErrorCodes.UNKNOWN_MESSAGE,
    message: "unknown message: ''",
  })
  assert.throws(() => parseEnvelope('x'.repeat(600), { id: '1' }), {
    code: ErrorCodes.UNKNOWN_MESSAGE,
  })
  assert.throws(() => parseEnvelope(undefined, { id: '1' }), { code: ErrorCodes.UNKNOWN_MESSAGE })
  assert.equal(parseEnvelope('x'.repeat(MAX_NAME_LENGTH), { id: '1' }).name.length, MAX_NAME_LENGTH)
})

test('parseEnvelope checks the name before the body', () => {
  assert.throws(() => parseEnvelope('', undefined), { code: ErrorCodes.UNKNOWN_MESSAGE })
})

test('parseEnvelope drops keys that are not part of the protocol', () => {
  const envelope = parseEnvelope('hello', { id: '1', name: 'other', extra: true, admin: 1 })
  assert.deepEqual(envelope, { name: 'hello', id: '1' })
})

test('a __proto__ key in a JSON-parsed body does not pollute Object.prototype', () => {
  const body: unknown = JSON.parse(
    '{"id":"1","__proto__":{"polluted":true,"sender":"evil"},"payload":{"__proto__":{"polluted":true}}}',
  )
  const envelope = parseEnvelope('hello', body)
  assert.equal(({} as Record<string, unknown>).polluted, undefined)
  assert.equal(Object.getPrototypeOf(envelope), Object.prototype)
  assert.equal(Object.hasOwn(envelope, 'sender'), false)
  assert.equal((envelope as unknown as Record<string, unknown>).polluted, undefined)
})

test('parseEnvelope returns an envelope with a non-empty id or throws a coded ProtocolError, for any JSON', () => {
  const codes = new Set<string>([
    ErrorCodes.MISSING_ID,
    ErrorCodes.INVALID_MESSAGE,
    ErrorCodes.UNKNOWN_MESSAGE,
  ])
  const name = fc.oneof(fc.string(), fc.string({ minLength: 500, maxLength: 600 }))
  // Plain JSON rarely looks like an envelope, so also build bodies from the protocol's keys.
  const envelopeLike = fc.record(
    {
      id: fc.oneof(fc.string({ maxLength: 300 }), fc.jsonValue()),
      sender: fc.jsonValue(),
      payload: fc.jsonValue(),
      responseTo: fc.oneof(fc.string(), fc.jsonValue()),
    },
    { requiredKeys: [] },
  )
  const body = fc.oneof(fc.jsonValue(), envelopeLike, fc.constant(undefined))
  let parsed = 0
  fc.assert(
    fc.property(name, body, (name, body) => {
      let envelope: ReturnType<typeof parseEnvelope>
      try {
        envelope = parseEnvelope(name, body)
      } catch (error) {
        return error instanceof ProtocolError && codes.has(error.code)
      }
      parsed++
      return typeof envelope.id === 'string' && envelope.id.length > 0 && envelope.name === name
    }),
    { numRuns: 2000 },
  )
  assert.ok(parsed > 0, 'some generated bodies were valid envelopes')
})

test('assertMessageName accepts a name up to the length limit', () => {
  assert.doesNotThrow(() => assertMessageName('users.create', 'test'))
  assert.doesNotThrow(() => assertMessageName('x'.repeat(MAX_NAME_LENGTH), 'test'))
})

test('assertMessageName rejects an empty, non-string or overlong name with INVALID_NAME', () => {
  for (const name of ['', 42, undefined, null, {}, 'x'.repeat(MAX_NAME_LENGTH + 1)]) {
    assert.throws(
      () => assertMessageName(name, 'ExoRelay#send'),
      (error: unknown) =>
        error instanceof InvalidArgumentError &&
        error.code === ErrorCodes.INVALID_NAME &&
        error.message.startsWith('The message name given to ExoRelay#send '),
      String(name),
    )
  }
})

test('assertPayload rejects functions, symbols and bigints with INVALID_PAYLOAD', () => {
  for (const payload of [() => {}, Symbol('x'), 10n]) {
    assert.throws(() => assertPayload(payload, 'ExoRelay#send'), {
      name: 'InvalidArgumentError',
      code: ErrorCodes.INVALID_PAYLOAD,
    })
  }
})

test('assertPayload hints at a forgotten payload when it gets a function', () => {
  assert.throws(() => assertPayload(() => {}, 'ExoRelay#send'), {
    message: /Did you forget the payload before the reply callback\?/,
  })
})

test('assertPayload accepts everything JSON carries, and no payload at all', () => {
  for (const payload of [
    undefined,
    null,
    '',
    'world',
    0,
    1.5,
    false,
    [],
    [1, 2, 3],
    {},
    { a: 1 },
  ]) {
    assert.doesNotThrow(() => assertPayload(payload, 'test'), String(payload))
  }
})

test('describeValue quotes strings, truncates long ones and names other kinds', () => {
  assert.equal(describeValue('zonk'), "'zonk'")
  assert.equal(describeValue('x'.repeat(50)), `'${'x'.repeat(40)}…' (50 characters)`)
  assert.equal(describeValue(null), 'null')
  assert.equal(describeValue([1]), 'an array')
  assert.equal(
    describeValue(() => {}),
    'a function',
  )
  assert.equal(describeValue({}), 'an object')
  assert.equal(describeValue(42), 'number 42')
  assert.equal(describeValue(undefined), 'undefined')
})
