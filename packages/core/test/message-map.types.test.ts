/**
 * Type tests of the typed message map. `npm run typecheck` compiles this file: each
 * `@ts-expect-error` line must fail to compile (an unused directive is itself an error), and
 * each `const _: Equal<A, B> = true` must hold. The `test()`s run the correct uses for real.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemoryBus } from '../src/memory-transport.js'
import type {
  ExpectsReply,
  OutcomeOf,
  PayloadOf,
  ReceivedMessage,
  ReplyEnvelopeOf,
  ReplyPayloadOf,
} from '../src/message-map.js'
import { Relay } from '../src/relay.js'
import type { HandlerContext } from '../src/relay-types.js'
import type { SentMessage } from '../src/sent-message.js'

/** True only when A and B are the same type (not merely assignable either way). */
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false

type User = { id: number; name: string }

type Messages = {
  'users.create': {
    payload: { name: string }
    replies: { 'users.created': User; 'users.not-created': { reason: string } }
  }
  'users.count': { replies: { 'users.counted': number } }
  'users.find': { payload?: string; replies: { 'users.found': User[] } }
  hello: { payload: { name: string } }
}

/** Holds code that must compile (or fail to) without ever running it. */
function compileOnly(_code: () => void): void {}

// The type-level facts of the map.
const _payload: Equal<PayloadOf<Messages, 'users.create'>, { name: string }> = true
const _noPayload: Equal<PayloadOf<Messages, 'users.count'>, undefined> = true
const _optionalPayload: Equal<PayloadOf<Messages, 'users.find'>, string | undefined> = true
const _outcomes: Equal<
  OutcomeOf<Messages, 'users.create'>,
  'users.created' | 'users.not-created'
> = true
const _noOutcomes: Equal<OutcomeOf<Messages, 'hello'>, never> = true
const _replyPayload: Equal<
  ReplyPayloadOf<Messages, 'users.create'>,
  User | { reason: string }
> = true
const _noReplyPayload: Equal<ReplyPayloadOf<Messages, 'hello'>, undefined> = true
const _replyEnvelope: Equal<
  ReplyEnvelopeOf<Messages, 'users.create'>,
  ReceivedMessage<User, 'users.created'> | ReceivedMessage<{ reason: string }, 'users.not-created'>
> = true
// A received message's payload is required exactly when its type admits no absent payload
// (`undefined` and `null` are not sent, so a payload that may be either may be missing).
const _requiredPayload: Equal<ReceivedMessage<User>['payload'], User> = true
const _absentPayload: Equal<ReceivedMessage<string | undefined>['payload'], string | undefined> =
  true
const _nullPayload: Equal<ReceivedMessage<number | null>['payload'], number | null | undefined> =
  true
const _untypedPayload: Equal<ReceivedMessage['payload'], unknown> = true
compileOnly(() => {
  const created = {} as ReceivedMessage<User, 'users.created'>
  created.payload.id
  const found = {} as ReceivedMessage<string | undefined, 'users.found'>
  // @ts-expect-error: a payload that may be undefined may be missing
  found.payload.length
  const counted = {} as ReceivedMessage<number | null, 'users.counted'>
  // @ts-expect-error: a null payload is not sent, so it may be missing too
  counted.payload.toFixed()
})
const _expectsReply: Equal<ExpectsReply<Messages, 'users.create'>, true> = true
const _expectsNoReply: Equal<ExpectsReply<Messages, 'hello'>, false> = true

compileOnly(() => {
  const web = new Relay<Messages>({ serviceName: 'web', transport: new MemoryBus().transport() })

  // @ts-expect-error: 'users.delete' is not a message of the map
  web.send('users.delete', { name: 'Will' })
  // @ts-expect-error: the payload of users.create is { name: string }
  web.send('users.create', { name: 42 })
  // @ts-expect-error: users.create needs its payload
  web.send('users.create')
  // @ts-expect-error: hello is never answered, so it must be sent with { reply: false }
  web.send('hello', { name: 'Will' })
  // @ts-expect-error: a message that is never answered takes no reply callback
  web.send('hello', { name: 'Will' }, () => {})
  // @ts-expect-error: 'users.delete' has no handler type
  web.registerHandler('users.delete', () => {})
  // @ts-expect-error: the handler's payload type must match the map
  web.registerHandler('users.create', (_user: { id: number }) => {})

  web.registerHandler('users.create', (_user, { reply }) => {
    // @ts-expect-error: 'users.deleted' is not an outcome of users.create
    reply('users.deleted', { id: 1, name: 'Will' })
    // @ts-expect-error: the payload of users.created is a User
    reply('users.created', { id: 'one', name: 'Will' })
    // @ts-expect-error: users.created needs its payload
    reply('users.created')
  })
})

test('a typed relay infers the payload, outcome and reply types of each message', async (t) => {
  const bus = new MemoryBus()
  const web = new Relay<Messages>({ serviceName: 'web', transport: bus.transport() })
  const users = new Relay<Messages>({ serviceName: 'users', transport: bus.transport() })
  t.after(() => Promise.all([web.close(), users.close()]))

  users.registerHandler('users.create', (user, ctx) => {
    const _user: Equal<typeof user, { name: string }> = true
    const _name: Equal<typeof ctx.name, 'users.create'> = true
    const _ctx: Equal<typeof ctx, HandlerContext<Messages, 'users.create'>> = true
    if (user.name === '') return ctx.reply('users.not-created', { reason: 'a name is needed' })
    return ctx.reply('users.created', { id: 456, name: user.name })
  })
  users.registerHandler('users.count', (payload, { reply }) => {
    const _payload: Equal<typeof payload, undefined> = true
    return reply('users.counted', 3)
  })
  const greeted: string[] = []
  users.registerHandler('hello', ({ name }) => {
    greeted.push(name)
  })
  await Promise.all([web.listen(), users.listen()])

  const sent = web.send('users.create', { name: 'Will' })
  const _sent: Equal<
    typeof sent,
    SentMessage<User | { reason: string }, ReplyEnvelopeOf<Messages, 'users.create'>>
  > = true
  const created = await sent
  const _created: Equal<typeof created, User | { reason: string }> = true
  assert.deepEqual(created, { id: 456, name: 'Will' })

  const reply = await web.send('users.create', { name: '' }).envelope()
  if (reply.name === 'users.not-created') {
    // Narrowing on the outcome narrows the payload, to the declared type: an outcome that
    // declares a payload always has one, so strict tsc takes `reply.payload.reason` (it once
    // reported TS18048, "possibly undefined", and the docs wrote `reply.payload?.reason`).
    const _narrowed: Equal<typeof reply.payload, { reason: string }> = true
    assert.equal(reply.payload.reason, 'a name is needed')
  } else {
    assert.fail(`expected users.not-created, got ${reply.name}`)
  }

  const count = await web.send('users.count')
  const _count: Equal<typeof count, number> = true
  assert.equal(count, 3)

  const outcomes: string[] = []
  const viaCallback = web.send('users.create', { name: 'Deanna' }, (payload, { outcome, end }) => {
    const _outcome: Equal<typeof outcome, 'users.created' | 'users.not-created'> = true
    const _payload: Equal<typeof payload, User | { reason: string }> = true
    outcomes.push(outcome)
    end()
  })
  const _viaCallback: Equal<typeof viaCallback, SentMessage<void, undefined>> = true
  assert.equal(await viaCallback, undefined)
  assert.deepEqual(outcomes, ['users.created'])

  const oneWay = web.send('hello', { name: 'Will' }, { reply: false })
  const _oneWay: Equal<typeof oneWay, SentMessage<void, undefined>> = true
  assert.equal(await oneWay, undefined)
  assert.deepEqual(greeted, ['Will'])
  assert.equal(web.pendingReplies, 0)
})

test('an untyped relay accepts any name and payload and resolves with any reply', async (t) => {
  const bus = new MemoryBus()
  const web = new Relay({ serviceName: 'web', transport: bus.transport() })
  const users = new Relay({ serviceName: 'users', transport: bus.transport() })
  t.after(() => Promise.all([web.close(), users.close()]))
  users.registerHandler('anything', (payload, { reply }) => reply('whatever', payload))
  await Promise.all([web.listen(), users.listen()])

  const sent = web.send('anything', [1, 2])
  // An untyped send must not collapse to `undefined` or `never`: its reply is `any`.
  const _sent: Equal<typeof sent, SentMessage<any, ReceivedMessage<any, string>>> = true
  assert.deepEqual(await sent, [1, 2])
  const seen: Array<[string, unknown]> = []
  await web.send('anything', 'x', (payload, { outcome, end }) => {
    const _outcome: Equal<typeof outcome, string> = true
    seen.push([outcome, payload])
    end()
  })
  assert.deepEqual(seen, [['whatever', 'x']])
})
