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

test('a one-way message that is refused is logged, and nothing is answered', async (t) => {
  const { web, users, usersLog, webLog, listen } = await pair(t, {}, { contract })
  users.registerHandler('users.touch', () => assert.fail('the handler ran'))
  await listen()
  await web.send('users.touch', { id: 'one' }, { reply: false })
  const refused = await usersLog.next('payload invalid: refused')
  assert.equal(refused.fields.messageName, 'users.touch')
  assert.equal(webLog.lines.filter((line) => line.level === 'warn').length, 0)
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
  assert.match(refused.message, /^The payload of 'users\.touch' does not match the contract: id: /)
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

test("a peer's refusal is rebuilt from its error reply, its issues capped again", () => {
  const error = remoteHandlerError(
    {
      name: '__error',
      id: 'r1',
      responseTo: 'q1',
      payload: {
        code: ErrorCodes.PAYLOAD_INVALID,
        message: 'ignored: the text is ours',
        service: 'users',
        data: {
          issues: Array.from({ length: 100 }, (_, i) => ({
            path: `field${i}`,
            message: `<b>bad</b>\n${'x'.repeat(10_000)}`,
          })),
          issueCount: 5_000,
        },
      },
    },
    'users.create',
  )
  assert.ok(error instanceof PayloadInvalidError)
  assert.equal(error.service, 'users')
  assert.equal(error.issues.length, 20)
  assert.equal(error.issueCount, 5_000)
  assert.ok(
    error.issues.every((issue) => issue.message.length <= 200 && !issue.message.includes('\n')),
  )
  assert.match(error.message, /\(and 4999 more issues\)/)
  assert.deepEqual(toWireError(error, 'web').data, {
    issues: error.issues,
    issueCount: 5_000,
  })
})

function captureThrow(fn: () => unknown): InvalidArgumentError {
  try {
    fn()
  } catch (error) {
    return error as InvalidArgumentError
  }
  assert.fail('it did not throw')
}
