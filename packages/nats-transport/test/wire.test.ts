import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createEnvelope, ErrorCodes, type OutgoingEnvelope } from '@exorelay/core'
import { headers, type Msg, type MsgHdrs, MsgHdrsImpl } from '@nats-io/transport-node'
import fc from 'fast-check'
import {
  encodeBody,
  fromNatsMessage,
  isNoResponders,
  MessageHeaders,
  messageHeaders,
  outcomeOf,
  publishHeaders,
  replyPublication,
  replyRouteOf,
} from '../src/wire.js'

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
const OTHER_TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
const A_DAY = 86_400_000

/** What a subscription hands over, without a server. */
function received(body: string, hdrs?: MsgHdrs, subject = 'exorelay.x'): Msg {
  const data = new TextEncoder().encode(body)
  return {
    subject,
    sid: 1,
    data,
    ...(hdrs && { headers: hdrs }),
    respond: () => false,
    json: <T>() => JSON.parse(body) as T,
    string: () => body,
  }
}

/**
 * A message whose header block arrives as `block` bytes: nats.js parses them when the headers
 * are first read, as it does for a message off the wire.
 */
function receivedRaw(body: string, block: string | Uint8Array): Msg {
  const bytes = typeof block === 'string' ? new TextEncoder().encode(block) : block
  return {
    ...received(body),
    get headers() {
      return MsgHdrsImpl.decode(bytes)
    },
  }
}

/** A header block as it travels: `NATS/1.0`, then one `name: value` line a header. */
function headerBlock(fields: Record<string, string>): string {
  const lines = Object.entries(fields).map(([name, value]) => `${name}: ${value}\r\n`)
  return `NATS/1.0\r\n${lines.join('')}\r\n`
}

/** Headers as a plain object, each name with its values, in the order they were set. */
function record(hdrs: MsgHdrs | undefined): Record<string, string[]> | undefined {
  return hdrs && Object.fromEntries(hdrs)
}

/** A request as a handler that received a traced request sends it on. */
function tracedRequest(): OutgoingEnvelope {
  return {
    ...createEnvelope('passwords.encrypt', 'users', 'secret'),
    timeout: 1_500,
    traceparent: TRACEPARENT,
    tracestate: 'congo=t61rcWkgMzE',
  }
}

describe('publishHeaders', () => {
  /** The block nats.js's publish() writes: it calls encode(), which MsgHdrs's type leaves out. */
  const hex = (hdrs: MsgHdrs | undefined) =>
    hdrs === undefined
      ? undefined
      : Buffer.from((hdrs as unknown as { encode(): Uint8Array }).encode()).toString('hex')

  test('writes the bytes nats.js would write for the same headers, whatever the subject holds', () => {
    const request = { ...createEnvelope('users.create', 'web', 1), timeout: 2500 }
    for (const subject of [
      '_INBOX.abc.r',
      '_INBOX.größe.r',
      '_INBOX.\u010a\u010d.r',
      '_INBOX.🙂.r',
    ]) {
      for (const envelope of [request, createEnvelope('users.created', 'users', 1)]) {
        const route = [MessageHeaders.REPLY_TO, subject] as const
        const expected = hex(messageHeaders(envelope, route))
        assert.equal(hex(publishHeaders(envelope, route)), expected, subject)
      }
    }
    assert.equal(hex(publishHeaders(request)), hex(messageHeaders(request)))
    assert.equal(publishHeaders(createEnvelope('hello', 'web', 1)), undefined)
  })

  test('leaves a route with a line break to nats.js, which refuses it', () => {
    const route = [MessageHeaders.REPLY_TO, '_INBOX.a\nb.r'] as const
    assert.throws(() => publishHeaders(createEnvelope('x', 'web', 1), route), /\\r or \\n/)
  })
})

describe('encodeBody, messageHeaders and replyPublication', () => {
  test('the body is the HTTP protocol body; a plain request has one header: where its replies go', () => {
    const envelope = createEnvelope('users.create', 'web', { name: 'Will' })
    assert.deepEqual(JSON.parse(encodeBody(envelope)), {
      id: envelope.id,
      sender: 'web',
      payload: { name: 'Will' },
    })
    const hdrs = messageHeaders(envelope, [MessageHeaders.REPLY_TO, '_INBOX.abc.r'])
    assert.deepEqual(hdrs?.keys(), [MessageHeaders.REPLY_TO])
    assert.equal(hdrs?.get(MessageHeaders.REPLY_TO), '_INBOX.abc.r')
    const reply = createEnvelope('users.created', 'users', undefined, 'request-1')
    assert.deepEqual(JSON.parse(encodeBody(reply)), {
      id: reply.id,
      sender: 'users',
      responseTo: 'request-1',
    })
  })

  test('a message with no route, deadline or trace gets no headers object at all', () => {
    assert.equal(
      messageHeaders(createEnvelope('users.created', 'users', 1, 'request-1')),
      undefined,
    )
    assert.equal(messageHeaders(createEnvelope('hello', 'web', 'world')), undefined)
  })

  test('the deadline and trace context travel as headers, not as body keys', () => {
    const envelope = tracedRequest()
    assert.deepEqual(JSON.parse(encodeBody(envelope)), {
      id: envelope.id,
      sender: 'users',
      payload: 'secret',
    })
    const hdrs = messageHeaders(envelope, [MessageHeaders.REPLY_TO, '_INBOX.abc.r'])
    assert.deepEqual(record(hdrs), {
      'exorelay-reply-to': ['_INBOX.abc.r'],
      'exorelay-timeout': ['1500'],
      traceparent: [TRACEPARENT],
      tracestate: ['congo=t61rcWkgMzE'],
    })
    // A reply carries the trace it belongs to, and no deadline.
    const { timeout: _timeout, ...traced } = envelope
    const reply = { ...traced, name: 'passwords.encrypted', responseTo: 'request-1' }
    assert.deepEqual(record(messageHeaders(reply)), {
      traceparent: [TRACEPARENT],
      tracestate: ['congo=t61rcWkgMzE'],
    })
  })

  test('a reply to a relay names its outcome in the subject, with no route header', () => {
    const route = { subject: '_INBOX.abc.r', byOutcome: true }
    assert.deepEqual(replyPublication(route, 'users.created'), {
      subject: '_INBOX.abc.r.users.created',
      header: undefined,
    })
    assert.equal(
      replyPublication(route, 'café crème').subject,
      '_INBOX.abc.r.caf%u00E9%20cr%u00E8me',
    )
  })

  test('a reply to a plain NATS request goes to its reply subject, the outcome in a header', () => {
    assert.deepEqual(
      replyPublication({ subject: '_INBOX.plain.7', byOutcome: false }, 'café.created'),
      { subject: '_INBOX.plain.7', header: [MessageHeaders.NAME, 'caf%u00E9.created'] },
    )
  })
})

describe('fromNatsMessage', () => {
  test('gives the relay what the HTTP listener would: payload kinds kept, no payload key when absent', () => {
    for (const payload of ['world', '', 0, [], {}, [1, 2, 3], { name: 'Will' }, false]) {
      const message = fromNatsMessage('hello', received(JSON.stringify({ id: '1', payload })))
      assert.deepEqual(message, { name: 'hello', id: '1', payload })
    }
    const bare = fromNatsMessage('hello', received('{"id":"1","sender":"web","payload":null}'))
    assert.deepEqual(bare, { name: 'hello', id: '1', sender: 'web' })
    assert.equal('payload' in bare, false)
  })

  test('a body that is not JSON, has no id or is not an object is a coded protocol error', () => {
    assert.throws(() => fromNatsMessage('x', received('{')), {
      code: ErrorCodes.INVALID_MESSAGE,
    })
    assert.throws(() => fromNatsMessage('x', received('')), { code: ErrorCodes.MISSING_ID })
    assert.throws(() => fromNatsMessage('x', received('{"payload":1}')), {
      code: ErrorCodes.MISSING_ID,
    })
    assert.throws(() => fromNatsMessage('x', received('[1]')), {
      code: ErrorCodes.INVALID_MESSAGE,
    })
  })

  test('reads the deadline and trace context back from the headers a relay sends', () => {
    const envelope = tracedRequest()
    const message = fromNatsMessage(
      envelope.name,
      received(encodeBody(envelope), messageHeaders(envelope)),
    )
    assert.deepEqual(message, envelope)
  })

  test("also takes them from the body, as an older relay sends them; a header wins over the body's key", () => {
    const body = JSON.stringify({
      id: '1',
      timeout: 2_000,
      traceparent: TRACEPARENT,
      tracestate: 'from=body',
    })
    assert.deepEqual(fromNatsMessage('x', received(body)), {
      name: 'x',
      id: '1',
      timeout: 2_000,
      traceparent: TRACEPARENT,
      tracestate: 'from=body',
    })
    const hdrs = headers()
    hdrs.append(MessageHeaders.TIMEOUT, '500')
    hdrs.append(MessageHeaders.TRACEPARENT, OTHER_TRACEPARENT)
    // The trace context is one pair: the body's tracestate does not join the header's traceparent.
    assert.deepEqual(fromNatsMessage('x', received(body, hdrs)), {
      name: 'x',
      id: '1',
      timeout: 500,
      traceparent: OTHER_TRACEPARENT,
    })
  })

  test('bad header values are dropped or clamped; the message is still received', () => {
    const cases: Array<[Record<string, string>, Record<string, unknown>]> = [
      [{ traceparent: '00-xyz-00f067aa0ba902b7-01', tracestate: 'a=b' }, {}],
      [{ traceparent: TRACEPARENT.toUpperCase() }, {}],
      [{ traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` }, {}],
      [{ 'exorelay-timeout': '-5' }, {}],
      [{ 'exorelay-timeout': '0' }, {}],
      [{ 'exorelay-timeout': 'abc' }, {}],
      [{ 'exorelay-timeout': '' }, {}],
      [{ 'exorelay-timeout': '0x10' }, {}],
      [{ 'exorelay-timeout': 'Infinity' }, {}],
      [{ 'exorelay-timeout': '1e999' }, {}],
      [{ 'exorelay-timeout': '1e99' }, { timeout: A_DAY }],
      [{ 'exorelay-timeout': '1.5' }, { timeout: 2 }],
      [{ traceparent: TRACEPARENT, tracestate: 'caf\u00e9=1' }, { traceparent: TRACEPARENT }],
      [{ traceparent: TRACEPARENT, tracestate: 'a'.repeat(513) }, { traceparent: TRACEPARENT }],
      [{ traceparent: `${TRACEPARENT}${'é'.repeat(100_000)}` }, {}],
      [{ 'exorelay-timeout': '9'.repeat(100_000) }, {}],
      [{ tracestate: 'a=b' }, {}],
    ]
    for (const [fields, expected] of cases) {
      const message = fromNatsMessage('x', receivedRaw('{"id":"1"}', headerBlock(fields)))
      assert.deepEqual(message, { name: 'x', id: '1', ...expected }, JSON.stringify(fields))
    }
  })

  test('a repeated header reads as HTTP joins fields: two tracestates make one list, two traceparents none', () => {
    const hdrs = headers()
    hdrs.append(MessageHeaders.TRACEPARENT, TRACEPARENT)
    hdrs.append(MessageHeaders.TRACESTATE, 'a=1')
    hdrs.append(MessageHeaders.TRACESTATE, 'b=2')
    assert.equal(fromNatsMessage('x', received('{"id":"1"}', hdrs)).tracestate, 'a=1,b=2')
    hdrs.append(MessageHeaders.TRACEPARENT, OTHER_TRACEPARENT)
    assert.deepEqual(fromNatsMessage('x', received('{"id":"1"}', hdrs)), { name: 'x', id: '1' })
  })

  test('headers nats.js cannot parse make a coded protocol error, not an exception from the callback', () => {
    const msg = receivedRaw('{"id":"1"}', 'NATS/1.0\r\nbad name: 1\r\n\r\n')
    assert.throws(() => fromNatsMessage('x', msg), {
      code: ErrorCodes.INVALID_MESSAGE,
      message: /the headers of the message on 'exorelay\.x' cannot be read/,
    })
    assert.equal(isNoResponders(msg), false)
    assert.equal(isNoResponders(receivedRaw('', 'NATS/1.0 503\r\n\r\n')), true)
  })

  test('property: any header values are read without throwing, and only valid ones are kept', () => {
    // A value cannot hold a line break on the wire: the line would end there.
    const value = fc.string({ unit: 'binary', maxLength: 200 }).map((v) => v.replace(/[\r\n]/g, ''))
    const near = fc.constantFrom(TRACEPARENT, '1500', '1e99', '-5', 'a=b', '')
    fc.assert(
      fc.property(
        fc.oneof(value, near),
        fc.oneof(value, near),
        fc.oneof(value, near),
        (p, s, t) => {
          const block = headerBlock({ traceparent: p, tracestate: s, 'exorelay-timeout': t })
          const message = fromNatsMessage('x', receivedRaw('{"id":"1"}', block))
          if (message.traceparent !== undefined) {
            assert.match(message.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/)
          }
          if (message.tracestate !== undefined) assert.match(message.tracestate, /^[\x20-\x7e]*$/)
          if (message.timeout !== undefined) {
            assert.ok(Number.isInteger(message.timeout) && message.timeout > 0)
            assert.ok(message.timeout <= A_DAY)
          }
        },
      ),
    )
  })

  test('property: any header block either reads or is a coded protocol error', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.string({ maxLength: 100 }),
        (bytes, text) => {
          for (const block of [bytes, `NATS/1.0\r\n${text}\r\n\r\n`]) {
            try {
              fromNatsMessage('x', receivedRaw('{"id":"1"}', block))
            } catch (error) {
              assert.equal((error as { code?: unknown }).code, ErrorCodes.INVALID_MESSAGE)
            }
          }
        },
      ),
    )
  })
})

describe('outcomeOf and replyRouteOf', () => {
  test('read the escaped outcome of a reply subject and the reply route of a request back', () => {
    assert.equal(outcomeOf('r.caf%u00E9.created', '_INBOX.abc.r.caf%u00E9.created'), 'café.created')
    const hdrs = headers()
    hdrs.set(MessageHeaders.REPLY_TO, '_INBOX.abc.r')
    const relayed = { ...received('{}', hdrs), reply: '_INBOX.abc.a.request-1' }
    assert.deepEqual(replyRouteOf(relayed), { subject: '_INBOX.abc.r', byOutcome: true })
  })

  test('a reply subject without a valid outcome is a protocol error; a missing route is none', () => {
    for (const token of ['r', 'r.', 'x.users.created', 'r.a%zz', 'r.users..%zz']) {
      assert.throws(() => outcomeOf(token, `_INBOX.abc.${token}`), {
        code: ErrorCodes.INVALID_MESSAGE,
      })
    }
    assert.equal(replyRouteOf(received('{}')), undefined)
  })

  test('without the reply header, the NATS reply subject of a plain request is the route', () => {
    const plain = { ...received('{}'), reply: '_INBOX.plain.1' }
    assert.deepEqual(replyRouteOf(plain), { subject: '_INBOX.plain.1', byOutcome: false })
  })
})
