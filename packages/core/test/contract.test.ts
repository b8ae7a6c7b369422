import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { StandardSchemaV1 } from '@standard-schema/spec'
import { type } from 'arktype'
import * as v from 'valibot'
import { z } from 'zod'
import { defineContract, isContract } from '../src/contract.js'
import { remoteHandlerError, toWireError } from '../src/error-reply.js'
import {
  ErrorCodes,
  InvalidArgumentError,
  isExoRelayError,
  PayloadInvalidError,
  RemoteHandlerError,
} from '../src/errors.js'
import type { Logger } from '../src/logger.js'
import { MemoryBus } from '../src/memory-transport.js'
import type { AnyMessages } from '../src/message-map.js'
import { capIssues, MAX_ISSUE_COUNT } from '../src/payload-validation.js'
import { Relay } from '../src/relay.js'
import type { RelayOptions } from '../src/relay-types.js'

// Contracts: defineContract's checks, and what a relay given one validates (issue 20): what
// arrives before its handler runs, the replies it awaits, and, with validateOutgoing, what it
// sends. Over the memory transport; over HTTP in packages/exorelay/test/contract-http.test.ts.

interface Line {
  level: string
  fields: Record<string, any>
  message: string | undefined
}

/** A Logger that keeps its lines, and lets a test await one. */
function recordingLogger(): Logger & { lines: Line[]; next(message: string): Promise<Line> } {
  const lines: Line[] = []
  const waiting: Array<{ message: string; resolve: (line: Line) => void }> = []
  const record = (level: string) => (fields: object, message?: string) => {
    const line = { level, fields: fields as Record<string, any>, message }
    lines.push(line)
    for (const waiter of waiting.filter((w) => w.message === message)) {
      waiting.splice(waiting.indexOf(waiter), 1)
      waiter.resolve(line)
    }
  }
  const logger = {
    lines,
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
    child: () => logger,
    next(message: string): Promise<Line> {
      const found = lines.find((line) => line.message === message)
      if (found !== undefined) return Promise.resolve(found)
      return new Promise((resolve) => waiting.push({ message, resolve }))
    },
  }
  return logger
}

/** A Standard Schema whose validator answers later, as a database lookup would. */
function asyncSchema(isValid: (value: unknown) => boolean): StandardSchemaV1<unknown, unknown> {
  return {
    '~standard': {
      version: 1,
      vendor: 'test',
      validate: async (value) => {
        await new Promise((resolve) => setImmediate(resolve))
        return isValid(value) ? { value } : { issues: [{ message: 'refused later' }] }
      },
    },
  }
}

/** Lets every callback already due run: what settles after a promise settles has settled. */
const turn = () => new Promise((resolve) => setImmediate(resolve))

/** A validator that passes `'first'` only after a few turns of the event loop, anything else at once. */
const firstIsSlow = schemaOf(async (value) => {
  if (value === 'first') for (let i = 0; i < 5; i++) await turn()
  return value === 'bad' ? { issues: [{ message: 'refused' }] } : { value }
})

const contract = defineContract({
  'users.create': {
    payload: z.object({ name: z.string(), role: z.string().default('member') }),
    replies: {
      'users.created': v.object({ id: v.number(), name: v.string(), role: v.string() }),
      'users.not-created': type({ reason: 'string' }),
    },
  },
  'users.touch': { payload: v.object({ id: v.number() }) },
  'users.check': {
    payload: asyncSchema((value) => value === 'ok'),
    replies: { 'users.checked': asyncSchema((value) => value === 'fine') },
  },
  'users.explode': {
    payload: {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: () => {
          throw new Error('validator exploded')
        },
      },
    } satisfies StandardSchemaV1,
    replies: { done: z.null() },
  },
})

/** A requester `web` and a receiver `users`, each with its own options, over one memory bus. */
async function pair(
  t: { after(fn: () => unknown): void },
  webOptions: Partial<RelayOptions<any>> = {},
  usersOptions: Partial<RelayOptions<any>> = {},
) {
  const bus = new MemoryBus()
  const webLog = recordingLogger()
  const usersLog = recordingLogger()
  // Untyped (the type tests are contract.types.test.ts): these send what the types refuse.
  const web = new Relay<AnyMessages>({
    serviceName: 'web',
    transport: bus.transport(),
    logger: webLog,
    ...webOptions,
  })
  const users = new Relay<AnyMessages>({
    serviceName: 'users',
    transport: bus.transport(),
    logger: usersLog,
    ...usersOptions,
  })
  t.after(() => Promise.all([web.close(), users.close()]))
  return { web, users, webLog, usersLog, listen: () => Promise.all([web.listen(), users.listen()]) }
}

test('defineContract returns a frozen contract that isContract knows, also from another copy', () => {
  assert.equal(isContract(contract), true)
  assert.equal(Object.isFrozen(contract), true)
  assert.equal(Object.isFrozen(contract.messages), true)
  assert.equal(Object.isFrozen(contract.messages['users.create']!.replies), true)
  assert.equal(isContract({ messages: {} }), false)
  assert.equal(isContract(null), false)
  const fromAnotherCopy = { messages: {} }
  Object.defineProperty(fromAnotherCopy, Symbol.for('exorelay.contract'), { value: true })
  assert.equal(isContract(fromAnotherCopy), true)
})

test('defineContract names every message, outcome and key that is wrong, at once', () => {
  const error = captureThrow(() =>
    defineContract({
      'users.create': {
        payload: { parse: () => 1 } as never,
        replies: { 'users.created': 42 as never },
      },
      'users.touch': { payload: z.string(), schema: z.string() } as never,
      'users.list': { replies: [] as never },
      '': { payload: z.string() },
    }),
  )
  assert.ok(error instanceof InvalidArgumentError)
  assert.equal(error.code, ErrorCodes.INVALID_CONTRACT)
  assert.match(
    error.message,
    /the payload of 'users\.create' is not a Standard Schema v1 schema, got an object/,
  )
  assert.match(
    error.message,
    /the outcome 'users\.created' of 'users\.create' is not a Standard Schema v1 schema, got number 42/,
  )
  assert.match(error.message, /'users\.touch' has an unknown key 'schema'/)
  assert.match(error.message, /the replies of 'users\.list' must be an object/)
  assert.match(error.message, /the message name '' must not be empty/)
  assert.match(
    error.message,
    /Use a validator that implements Standard Schema v1: zod 4, valibot 1, arktype 2/,
  )
  assert.equal(captureThrow(() => defineContract(null as never)).code, ErrorCodes.INVALID_CONTRACT)
})

test('a relay refuses a contract that defineContract did not make', () => {
  const error = captureThrow(
    () =>
      new Relay({
        serviceName: 'web',
        transport: new MemoryBus().transport(),
        contract: { messages: {} } as never,
      }),
  )
  assert.equal(error.code, ErrorCodes.INVALID_OPTION)
  assert.match(
    error.message,
    /The contract option must be a contract made by defineContract\(\), got an object/,
  )
})

test('an invalid payload is refused before the handler runs: the caller gets the issues', async (t) => {
  const { web, users, usersLog, listen } = await pair(t, {}, { contract })
  let ran = 0
  users.registerHandler('users.create', (_user, { reply }) => {
    ran++
    return reply('users.created', { id: 1, name: 'x', role: 'member' })
  })
  await listen()
  const error = await web.send('users.create', { name: 42 }).then(
    () => assert.fail('the send resolved'),
    (e: unknown) => e,
  )
  assert.ok(error instanceof PayloadInvalidError, String(error))
  assert.ok(isExoRelayError(error, ErrorCodes.PAYLOAD_INVALID))
  assert.equal(error.messageName, 'users.create')
  assert.equal(error.service, 'users')
  assert.equal(error.outcome, undefined)
  assert.deepEqual(
    error.issues.map((issue) => issue.path),
    ['name'],
  )
  assert.match(
    error.message,
    /^The payload of 'users\.create' does not match the contract of service 'users': name: .+\. Send what the contract says, or update the contract on both sides\.$/,
  )
  assert.equal(ran, 0)
  const refused = await usersLog.next('payload invalid: refused')
  assert.equal(refused.level, 'warn')
  assert.equal(refused.fields.messageName, 'users.create')
  assert.deepEqual(refused.fields.issues, error.issues)
  assert.equal(usersLog.lines.filter((line) => line.level === 'error').length, 0)
})

test("the handler gets the validator's output: zod's default applied, unknown keys stripped", async (t) => {
  const { web, users, listen } = await pair(t, { contract }, { contract })
  users.registerHandler('users.create', (user, { reply }) =>
    reply('users.created', { id: 1, ...user }),
  )
  await listen()
  assert.deepEqual(await web.send('users.create', { name: 'Will', extra: true } as never), {
    id: 1,
    name: 'Will',
    role: 'member',
  })
})

test('a field left out for its default arrives filled in, and a transformed one travels as sent', async (t) => {
  // Typed by the contract (no `as never`): send takes each schema's input, the handler gets
  // its output. Outgoing validation on both sides checks the input and sends it unchanged: had
  // the sender sent its validator's output (seats as a number), the receiver would refuse it.
  const invites = defineContract({
    'users.invite': {
      payload: z.object({
        email: z.string(),
        role: z.string().default('member'),
        seats: z.string().transform(Number),
      }),
      replies: { 'users.invited': z.object({ role: z.string(), seats: z.number() }) },
    },
  })
  const bus = new MemoryBus()
  const options = { contract: invites, validateOutgoing: true, logger: recordingLogger() }
  const web = new Relay({ serviceName: 'web', transport: bus.transport(), ...options })
  const users = new Relay({ serviceName: 'users', transport: bus.transport(), ...options })
  t.after(() => Promise.all([web.close(), users.close()]))
  const arrived: unknown[] = []
  users.registerHandler('users.invite', (invite, { reply }) => {
    arrived.push(invite)
    return reply('users.invited', { role: invite.role, seats: invite.seats })
  })
  await Promise.all([web.listen(), users.listen()])
  const invited = await web.send('users.invite', { email: 'ada@lovelace.org', seats: '3' })
  assert.deepEqual(arrived, [{ email: 'ada@lovelace.org', role: 'member', seats: 3 }])
  assert.deepEqual(invited, { role: 'member', seats: 3 })
})

test('a payload with 1,000 bad fields keeps 20 capped issues and says how many more', async (t) => {
  const wide = defineContract({
    bulk: {
      payload: z.object(
        Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`field${i}`, z.string()])),
      ),
      replies: { ok: z.null() },
    },
  })
  const { web, users, listen } = await pair(t, {}, { contract: wide })
  users.registerHandler('bulk', () => {})
  await listen()
  const error = await web.send('bulk', { field0: 'x'.repeat(10_000) }).then(
    () => assert.fail('the send resolved'),
    (e: unknown) => e as PayloadInvalidError,
  )
  assert.equal(error.code, ErrorCodes.PAYLOAD_INVALID)
  assert.equal(error.issues.length, 20)
  assert.match(error.message, /\(and 998 more issues\)/)
  assert.ok(!error.message.includes('xxxxxxxxxx'), 'no payload value is echoed')
})

test('a validator that throws is a handler failure, and the relay keeps serving', async (t) => {
  const { web, users, usersLog, listen } = await pair(t, {}, { contract })
  users.registerHandler('users.explode', (_payload, { reply }) => reply('done', null))
  users.registerHandler('users.touch', () => {})
  await listen()
  const error = await web.send('users.explode', 1).then(
    () => assert.fail('the send resolved'),
    (e: unknown) => e,
  )
  assert.ok(error instanceof RemoteHandlerError, String(error))
  assert.equal(error.remoteCode, ErrorCodes.HANDLER_FAILED)
  assert.match(error.message, /validator of 'users\.explode' threw/)
  assert.equal((await usersLog.next('handler failed')).level, 'error')
  await web.send('users.touch', { id: 1 }, { reply: false })
})

test('a one-way message that is refused is logged, and its sender drops the error reply quietly', async (t) => {
  const { web, users, usersLog, webLog, listen } = await pair(t, {}, { contract })
  let ran = 0
  users.registerHandler('users.touch', () => {
    ran++
  })
  users.registerHandler('ping', (_payload, { reply }) => reply('pong'))
  await listen()
  await web.send('users.touch', { id: 'one' }, { reply: false })
  const refused = await usersLog.next('payload invalid: refused')
  assert.equal(refused.fields.messageName, 'users.touch')
  // The receiver cannot tell a one-way message from a request: it answers with an error
  // reply, which comes before the answer to a request sent after it, and which the sender,
  // waiting for nothing, takes as an unknown message (debug).
  await web.send('ping', null)
  assert.equal(ran, 0, 'the handler did not run')
  const dropped = webLog.lines.filter((line) => line.fields.messageName === '__error')
  assert.deepEqual(
    dropped.map((line) => [line.level, line.message]),
    [['debug', 'unknown message']],
  )
  const loud = (line: Line) => line.level === 'warn' || line.level === 'error'
  assert.deepEqual(webLog.lines.filter(loud), [])
  assert.deepEqual(usersLog.lines.filter(loud), [refused])
})

test('a reply that does not match the contract rejects the send at the requester', async (t) => {
  const { web, users, listen } = await pair(t, { contract, validateOutgoing: false })
  users.registerHandler('users.create', (user: any, { reply }) =>
    user.name === 'unlisted'
      ? reply('users.gone' as never, {})
      : reply('users.created', { id: 'one', name: user.name } as never),
  )
  await listen()
  const invalid = await web.send('users.create', { name: 'Will' }).then(
    () => assert.fail('the send resolved'),
    (e: unknown) => e as PayloadInvalidError,
  )
  assert.ok(invalid instanceof PayloadInvalidError)
  assert.equal(invalid.code, ErrorCodes.REPLY_INVALID)
  assert.equal(invalid.outcome, 'users.created')
  assert.equal(invalid.service, undefined)
  assert.deepEqual(invalid.issues.map((issue) => issue.path).sort(), ['id', 'role'])
  assert.match(
    invalid.message,
    /^The reply 'users\.created' to 'users\.create' does not match the contract: .+\. Reply with a payload the contract lists, or update the contract on both sides\.$/,
  )

  const unlisted = await web.send('users.create', { name: 'unlisted' }).then(
    () => assert.fail('the send resolved'),
    (e: unknown) => e as PayloadInvalidError,
  )
  assert.equal(unlisted.code, ErrorCodes.REPLY_INVALID)
  assert.match(
    unlisted.message,
    /'users\.gone' to 'users\.create' is not an outcome the contract lists \('users\.created', 'users\.not-created'\)/,
  )
})

test('outgoing validation (on): an invalid send or reply rejects, and nothing leaves', async (t) => {
  const { web, users, listen } = await pair(
    t,
    { contract, validateOutgoing: true },
    { contract, validateOutgoing: true },
  )
  const arrived: unknown[] = []
  let replyError: unknown
  users.registerHandler('users.touch', (payload) => {
    arrived.push(payload)
  })
  users.registerHandler('users.create', async (_user, { reply }) => {
    replyError = await reply('users.created', { id: 'one' } as never).then(
      () => undefined,
      (e: unknown) => e,
    )
    return reply('users.not-created', { reason: 'could not reply' })
  })
  await listen()
  const refused = await web.send('users.touch', { id: 'one' } as never, { reply: false }).then(
    () => assert.fail('the send resolved'),
    (e: unknown) => e as PayloadInvalidError,
  )
  assert.equal(refused.code, ErrorCodes.PAYLOAD_INVALID)
  assert.equal(refused.service, undefined)
  assert.match(
    refused.message,
    /^The payload of 'users\.touch' does not match the contract, so it was not sent: id: /,
  )
  await web.send('users.touch', { id: 2 }, { reply: false })
  assert.deepEqual(arrived, [{ id: 2 }])

  assert.deepEqual(await web.send('users.create', { name: 'Will' }), { reason: 'could not reply' })
  assert.ok(replyError instanceof PayloadInvalidError)
  assert.equal(replyError.code, ErrorCodes.REPLY_INVALID)
})

test('outgoing validation is on by default, and off with NODE_ENV=production', async (t) => {
  const before = process.env.NODE_ENV
  t.after(() => {
    if (before === undefined) delete process.env.NODE_ENV
    else process.env.NODE_ENV = before
  })
  delete process.env.NODE_ENV
  const development = await pair(t, { contract }, { contract })
  process.env.NODE_ENV = 'production'
  const production = await pair(t, { contract }, { contract })
  for (const { users } of [development, production]) users.registerHandler('users.create', () => {})
  await Promise.all([development.listen(), production.listen()])

  const local = await development.web.send('users.create', { name: 1 } as never).catch((e) => e)
  assert.equal(local.code, ErrorCodes.PAYLOAD_INVALID)
  assert.equal(local.service, undefined, 'refused before it left')
  const remote = await production.web.send('users.create', { name: 1 } as never).catch((e) => e)
  assert.equal(remote.code, ErrorCodes.PAYLOAD_INVALID)
  assert.equal(remote.service, 'users', 'sent, and refused by the receiver')
})

test('async validators are awaited: incoming, replies (in order) and outgoing', async (t) => {
  const { web, users, listen } = await pair(t, { contract }, { contract, validateOutgoing: false })
  users.registerHandler('users.check', async (payload, { reply }) => {
    assert.equal(payload, 'ok')
    await reply('users.checked', 'fine')
    await reply('users.checked', 'not fine')
  })
  await listen()
  const outcomes: unknown[] = []
  await assert.rejects(
    web.send('users.check', 'ok', (payload) => {
      outcomes.push(payload)
    }),
    (error: PayloadInvalidError) =>
      error.code === ErrorCodes.REPLY_INVALID && /refused later/.test(error.message),
  )
  assert.deepEqual(outcomes, ['fine'])
  const outgoing = web.send('users.check', 'wrong')
  const error = (await outgoing.catch((e: unknown) => e)) as PayloadInvalidError
  assert.equal(error.code, ErrorCodes.PAYLOAD_INVALID)
  assert.equal(error.service, undefined, 'refused by the async check before it left')
  assert.equal(typeof outgoing.id, 'string')
})

test('replies reach a callback in the order they came, when the first takes longer to check', async (t) => {
  const ordered = defineContract({ 'users.steps': { replies: { step: firstIsSlow } } })
  const { web, users, listen } = await pair(t, { contract: ordered }, {})
  users.registerHandler('users.steps', async (_payload, { reply }) => {
    await reply('step', 'first')
    await reply('step', 'second')
    await reply('step', 'bad')
  })
  await listen()
  const outcomes: unknown[] = []
  await assert.rejects(
    web.send('users.steps', null, (payload) => {
      outcomes.push(payload)
    }),
    (error: PayloadInvalidError) => error.code === ErrorCodes.REPLY_INVALID,
  )
  assert.deepEqual(outcomes, ['first', 'second'])
})

/** What the requester of 'users.create' makes of an error reply of service 'users' refusing it. */
function peerRefusal(payload: Record<string, unknown>) {
  return remoteHandlerError(
    {
      name: '__error',
      id: 'r1',
      responseTo: 'q1',
      payload: { code: ErrorCodes.PAYLOAD_INVALID, service: 'users', ...payload },
    },
    'users.create',
  )
}

test("a peer's refusal is rebuilt from its error reply, its issues capped again", () => {
  const error = peerRefusal({
    message: 'ignored: the text is ours',
    data: {
      issues: Array.from({ length: 100 }, (_, i) => ({
        path: `field${i}`,
        message: `<b>bad</b>\n${'x'.repeat(10_000)}`,
      })),
      issueCount: 5_000,
    },
  })
  assert.ok(error instanceof PayloadInvalidError)
  assert.equal(error.service, 'users')
  assert.equal(error.issues.length, 20)
  assert.equal(error.issueCount, 5_000)
  assert.ok(
    error.issues.every((issue) => issue.message.length <= 200 && !issue.message.includes('\n')),
  )
  assert.match(error.message, /\(and 4999 more issues\)/)
  // Let escape by a handler of 'web', it is that handler's failure: its caller's payload
  // was not refused.
  const wire = toWireError(error, 'web')
  assert.equal(wire.code, ErrorCodes.HANDLER_FAILED)
  assert.equal(wire.data, undefined)
  assert.equal(wire.message, error.message)
})

function captureThrow(fn: () => unknown): InvalidArgumentError {
  try {
    fn()
  } catch (error) {
    return error as InvalidArgumentError
  }
  assert.fail('it did not throw')
}

/** A Standard Schema whose validator returns what `validate` gives: a stand-in for a broken one. */
function schemaOf(validate: (value: unknown) => unknown): StandardSchemaV1 {
  return { '~standard': { version: 1, vendor: 'test', validate: validate as never } }
}

/** A validator that answers when the test says: `release(true)` passes, `release(false)` refuses. */
function heldSchema() {
  let release!: (valid: boolean) => void
  const answer = new Promise<boolean>((resolve) => {
    release = resolve
  })
  const schema = schemaOf(async (value) =>
    (await answer) ? { value } : { issues: [{ message: 'refused' }] },
  )
  return { schema, release }
}

test('a send waiting for its async outgoing check ends at its deadline, its signal or close(), and is not sent after', async (t) => {
  const held = heldSchema()
  const slow = defineContract({ 'users.slow': { payload: held.schema } })
  const bus = new MemoryBus()
  const transport = bus.transport()
  const sentNames: string[] = []
  const send = transport.send.bind(transport)
  transport.send = (envelope, options) => {
    sentNames.push(envelope.name)
    return send(envelope, options)
  }
  const web = new Relay<AnyMessages>({
    serviceName: 'web',
    transport,
    contract: slow as never,
    validateOutgoing: true,
  })
  t.after(() => web.close())
  await web.listen()

  const late = await web.send('users.slow', 1, { timeout: 20 }).catch((e: unknown) => e)
  assert.ok(isExoRelayError(late, ErrorCodes.TIMEOUT), String(late))
  assert.match(
    (late as Error).message,
    /^'users\.slow' was not sent within 20 ms: the contract's validator/,
  )

  const controller = new AbortController()
  const aborted = web.send('users.slow', 1, { signal: controller.signal }).catch((e: unknown) => e)
  controller.abort()
  const abortError = await aborted
  assert.ok(isExoRelayError(abortError, ErrorCodes.ABORTED), String(abortError))
  assert.match((abortError as Error).message, /'users\.slow'/)

  const closed = web.send('users.slow', 1, { reply: false }).catch((e: unknown) => e)
  await web.close()
  const closedError = await closed
  assert.ok(isExoRelayError(closedError, ErrorCodes.CLOSED), String(closedError))
  assert.match((closedError as Error).message, /'users\.slow'/)

  held.release(true)
  await turn()
  assert.deepEqual(sentNames, [], 'nothing is sent once the send ended')
})

test('a validator that returns no Standard Schema result fails as the validator, on every path', async (t) => {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  t.after(() => process.off('unhandledRejection', onUnhandled))
  const broken = defineContract({
    'users.undefined': { payload: schemaOf(() => undefined) },
    'users.not-array': { payload: schemaOf(() => ({ issues: {} })) },
    'users.number': { payload: schemaOf(() => 42) },
    'users.replies': {
      replies: {
        'sync.not-array': schemaOf(() => ({ issues: {} })),
        'async.undefined': schemaOf(async () => undefined),
        'sync.undefined': schemaOf(() => undefined),
      },
    },
  })
  const { web, users, listen } = await pair(
    t,
    { contract: broken, validateOutgoing: false },
    { contract: broken, validateOutgoing: false },
  )
  users.registerHandler('users.undefined', (_payload, { reply }) => reply('done'))
  users.registerHandler('users.replies', (outcome: any, { reply }) => reply(outcome, 1))
  await listen()

  // Incoming: the caller learns that the receiver's validator failed.
  const incoming = await web.send('users.undefined', 1).catch((e: unknown) => e)
  assert.ok(incoming instanceof RemoteHandlerError, String(incoming))
  assert.equal(incoming.remoteCode, ErrorCodes.HANDLER_FAILED)
  assert.match(
    incoming.message,
    /validator of 'users\.undefined' failed: it returned undefined, not \{ value \} nor \{ issues: \[\.\.\.\] \}/,
  )

  // Replies: the requester's own validator failed, not the peer; at once, not at the deadline.
  for (const outcome of ['sync.not-array', 'async.undefined', 'sync.undefined']) {
    const error = await web
      .send('users.replies', outcome, { timeout: Number.POSITIVE_INFINITY })
      .catch((e: unknown) => e)
    assert.ok(isExoRelayError(error, ErrorCodes.HANDLER_FAILED), `${outcome}: ${String(error)}`)
    assert.match(
      (error as Error).message,
      new RegExp(`^The contract's validator of the reply '${outcome}' to 'users\\.replies' failed`),
    )
  }

  // Outgoing: the send rejects, it never throws.
  const checking = new Relay<AnyMessages>({
    serviceName: 'checking',
    transport: new MemoryBus().transport(),
    contract: broken as never,
    validateOutgoing: true,
  })
  for (const name of ['users.not-array', 'users.number']) {
    const error = await checking.send(name, 1, { reply: false }).catch((e: unknown) => e)
    assert.ok(isExoRelayError(error, ErrorCodes.HANDLER_FAILED), `${name}: ${String(error)}`)
  }
  await turn()
  assert.deepEqual(unhandled, [])
})

test("a PayloadInvalidError of a handler's own send or reply is the handler's failure, not its caller's", async (t) => {
  const orders = defineContract({
    'stock.reserve': { payload: z.object({ sku: z.string() }) },
    'orders.place': { replies: { 'orders.placed': z.object({ id: z.number() }) } },
  })
  const { web, users, usersLog, listen } = await pair(
    t,
    {},
    { contract: orders, validateOutgoing: true },
  )
  users.registerHandler('orders.place', async (how: any, { send, reply }) => {
    if (how === 'send') await send('stock.reserve', { sku: 42 }, { reply: false })
    await reply('orders.placed', { id: 'one' })
  })
  await listen()
  for (const [how, inner] of [
    ['send', /The payload of 'stock\.reserve' does not match the contract/],
    ['reply', /The reply 'orders\.placed' to 'orders\.place' does not match the contract/],
  ] as const) {
    const error = await web.send('orders.place', how).catch((e: unknown) => e)
    assert.ok(error instanceof RemoteHandlerError, `${how}: ${String(error)}`)
    assert.equal(error.remoteCode, ErrorCodes.HANDLER_FAILED)
    assert.match(error.message, /^The handler of 'orders\.place' in service 'users' failed: /)
    assert.match(error.message, inner)
  }
  const failures = usersLog.lines.filter((line) => line.message === 'handler failed')
  assert.equal(failures.length, 2)
  assert.ok(failures.every((line) => line.level === 'error' && line.fields.err instanceof Error))
  assert.equal(
    usersLog.lines.filter((line) => line.message === 'payload invalid: refused').length,
    0,
  )
})

test('an error reply waits behind the replies of its request still being checked', async (t) => {
  const ordered = defineContract({ 'users.steps': { replies: { step: firstIsSlow } } })
  const { web, users, listen } = await pair(t, { contract: ordered }, {})
  users.registerHandler('users.steps', async (_payload, { reply }) => {
    await reply('step', 'first')
    throw new Error('then it failed')
  })
  await listen()
  const outcomes: unknown[] = []
  const error = await web
    .send('users.steps', null, (payload) => {
      outcomes.push(payload)
    })
    .catch((e: unknown) => e)
  assert.ok(error instanceof RemoteHandlerError, String(error))
  assert.deepEqual(outcomes, ['first'])
})

test('a reply checked after its deadline is logged as late', async (t) => {
  const held = heldSchema()
  const slow = defineContract({ 'users.slow': { replies: { done: held.schema } } })
  const { web, users, webLog, listen } = await pair(t, { contract: slow }, {})
  let replied!: () => void
  const repliedOnce = new Promise<void>((resolve) => {
    replied = resolve
  })
  users.registerHandler('users.slow', async (_payload, { reply }) => {
    await reply('done', 1)
    replied()
  })
  await listen()
  const sent = web.send('users.slow', null, { timeout: 50 })
  await repliedOnce
  assert.ok(isExoRelayError(await sent.catch((e: unknown) => e), ErrorCodes.TIMEOUT))
  held.release(true)
  const late = await webLog.next('late reply: its sender no longer waited')
  assert.equal(late.fields.messageName, 'done')
})

test('quoted values in issue messages are cut to a short preview (valibot, zod)', () => {
  const card = 'card 4111111111111111'
  const valibot = v.number()['~standard'].validate(card) as StandardSchemaV1.FailureResult
  const zod = z
    .number({ error: (issue) => `expected a number, got '${String(issue.input)}'` })
    ['~standard'].validate(card) as StandardSchemaV1.FailureResult
  const [fromValibot] = capIssues(valibot.issues)
  const [fromZod] = capIssues(zod.issues)
  assert.equal(fromValibot!.message, 'Invalid type: Expected number but received "card 411…"')
  assert.equal(fromZod!.message, "expected a number, got 'card 411…'")
  assert.deepEqual(capIssues([{ message: `isn't the service's "short" value, it's 'fine'` }]), [
    { path: '', message: `isn't the service's "short" value, it's 'fine'` },
  ])
  // Short quoted runs before the value: the text between them is no quoted run.
  const options = v
    .picklist(['a', 'b'])
    ['~standard'].validate(card) as StandardSchemaV1.FailureResult
  const [fromOptions] = capIssues(options.issues)
  assert.equal(fromOptions!.message, 'Invalid type: Expected ("a" | "b") but received "card 411…"')
  // Capped again (a peer's issues are), a previewed message stays as it is.
  const two = [
    { message: `expected "${'A'.repeat(16)}" or else something long "${'B'.repeat(18)}"` },
  ]
  assert.deepEqual(capIssues(capIssues(two)), capIssues(two))
  assert.equal(
    capIssues(two)[0]!.message,
    'expected "AAAAAAAA…" or else something long "BBBBBBBB…"',
  )
})

test("a peer's issue count is believed up to 10,000, then said as many", () => {
  const error = peerRefusal({
    data: { issues: [{ path: 'a', message: 'bad' }], issueCount: Number.MAX_SAFE_INTEGER },
  }) as PayloadInvalidError
  assert.equal(error.issueCount, MAX_ISSUE_COUNT)
  assert.equal(MAX_ISSUE_COUNT, 10_000)
  assert.match(error.message, /a: bad \(and many more issues\)/)
})
