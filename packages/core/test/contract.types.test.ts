/**
 * Type tests of contracts, as message-map.types.test.ts has them for the typed map: a relay
 * given a contract is typed by it with no type argument, with the same checks. `npm run
 * typecheck` compiles this file: each `@ts-expect-error` line must fail to compile, and each
 * `const _: Equal<A, B> = true` must hold. The `test()` runs the correct uses for real.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type } from 'arktype'
import * as v from 'valibot'
import { z } from 'zod'
import { type Contract, defineContract, isContract, type MessagesOf } from '../src/contract.js'
import { MemoryBus } from '../src/memory-transport.js'
import type { ReplyEnvelopeOf } from '../src/message-map.js'
import { Relay } from '../src/relay.js'
import type { SentMessage } from '../src/sent-message.js'

type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false

function compileOnly(_code: () => void): void {}

const contract = defineContract({
  'users.create': {
    payload: z.object({ name: z.string(), role: z.string().default('member') }),
    replies: {
      'users.created': v.object({ id: v.number(), name: v.string() }),
      'users.not-created': type({ reason: 'string' }),
    },
  },
  'users.count': { replies: { 'users.counted': z.number() } },
  hello: { payload: z.object({ name: z.string() }) },
})

type User = { id: number; name: string }
type Messages = MessagesOf<typeof contract>

// MessagesOf reads the map from the contract, or from the object of schemas it was made of.
const _fromContract: Equal<Messages, NonNullable<(typeof contract)['~messages']>> = true
const schemas = { ping: { payload: z.string(), replies: { pong: z.number() } } }
const _fromSchemas: Equal<
  MessagesOf<typeof schemas>,
  { ping: { payload: string; replies: { pong: number } } }
> = true

// The map a contract gives: payloads and replies typed by the schemas' output.
const _map: Equal<
  typeof contract,
  Contract<{
    'users.create': {
      payload: { name: string; role: string }
      replies: { 'users.created': User; 'users.not-created': { reason: string } }
    }
    'users.count': { replies: { 'users.counted': number } }
    hello: { payload: { name: string } }
  }>
> = true
// Any contract is a Contract, as isContract narrows to.
const _anyContract: Contract = contract
const _narrowed = (value: unknown) => (isContract(value) ? value.messages : undefined)
void _narrowed

compileOnly(() => {
  const transport = new MemoryBus().transport()
  const web = new Relay({ serviceName: 'web', transport, contract })
  // @ts-expect-error: 'users.delete' is not a message of the contract
  web.send('users.delete', { name: 'Will' })
  // @ts-expect-error: the payload of users.create has a string name
  web.send('users.create', { name: 42, role: 'admin' })
  // @ts-expect-error: hello is never answered, so it must be sent with { reply: false }
  web.send('hello', { name: 'Will' })
  // @ts-expect-error: the handler's payload type must match the contract
  web.registerHandler('users.create', (_user: { id: number }) => {})
  web.registerHandler('users.create', (_user, { reply }) => {
    // @ts-expect-error: 'users.deleted' is not an outcome of users.create
    reply('users.deleted', { id: 1, name: 'Will' })
    // @ts-expect-error: the payload of users.created is a User
    reply('users.created', { id: 'one', name: 'Will' })
  })
  // @ts-expect-error: a plain object is not a contract
  new Relay({ serviceName: 'web', transport, contract: { messages: {} as Record<string, string> } })
})

test('a relay given a contract infers its payload, outcome and reply types', async (t) => {
  const bus = new MemoryBus()
  const web = new Relay({ serviceName: 'web', transport: bus.transport(), contract })
  const users = new Relay({ serviceName: 'users', transport: bus.transport(), contract })
  t.after(() => Promise.all([web.close(), users.close()]))
  users.registerHandler('users.create', (user, ctx) => {
    const _user: Equal<typeof user, { name: string; role: string }> = true
    return ctx.reply('users.created', { id: 1, name: `${user.name} (${user.role})` })
  })
  users.registerHandler('users.count', (payload, { reply }) => {
    const _payload: Equal<typeof payload, undefined> = true
    return reply('users.counted', 3)
  })
  await Promise.all([web.listen(), users.listen()])

  const sent = web.send('users.create', { name: 'Will', role: 'admin' })
  const _sent: Equal<
    typeof sent,
    SentMessage<User | { reason: string }, ReplyEnvelopeOf<Messages, 'users.create'>>
  > = true
  assert.deepEqual(await sent, { id: 1, name: 'Will (admin)' })
  const count = await web.send('users.count')
  const _count: Equal<typeof count, number> = true
  assert.equal(count, 3)
})
