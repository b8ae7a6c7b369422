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
import {
  type Contract,
  defineContract,
  isContract,
  type MessageSchemas,
  type MessagesOf,
  type SchemaInput,
  type SchemaOutput,
} from '../src/contract.js'
import { MemoryBus } from '../src/memory-transport.js'
import type { ReceivedMessage, ReplyEnvelopeOf } from '../src/message-map.js'
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

// The map a contract gives: payloads and replies typed by the schemas' output, and, for a
// message whose schemas change the data (role's default), by their input as `input`.
const _map: Equal<
  typeof contract,
  Contract<{
    'users.create': {
      payload: { name: string; role: string }
      replies: { 'users.created': User; 'users.not-created': { reason: string } }
      input: {
        payload: { name: string; role?: string | undefined }
        replies: { 'users.created': User; 'users.not-created': { reason: string } }
      }
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
  // role has a default: the sender may leave it out, the receiver's validator fills it in.
  web.send('users.create', { name: 'Will' })
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

// What is sent is typed by each schema's input, what is received by its output (as tRPC's
// inferRouterInputs and inferRouterOutputs): `.default()` makes a field optional for the
// sender and present for the handler, `.transform()` changes its type between the two.
const quotes = defineContract({
  'prices.quote': {
    payload: z.object({
      amount: z.string().transform(Number),
      currency: z.string().default('EUR'),
    }),
    replies: {
      'prices.quoted': z.object({
        total: z.number(),
        at: z.iso.datetime().transform((at) => new Date(at)),
      }),
    },
  },
  'prices.latest': {
    payload: z.string().default('EUR'),
    replies: { 'prices.found': z.object({ total: z.number() }) },
  },
  'prices.watch': { payload: z.object({ currency: z.string().default('EUR') }) },
})
type Quote = { amount: number; currency: string }
type Quoted = { total: number; at: Date }

// SchemaInput and SchemaOutput, for each of the three validators.
const zodAmount = z.string().transform(Number)
const valibotAmount = v.pipe(v.string(), v.transform(Number))
const arktypeAmount = type('string.numeric.parse')
const _amounts: [
  Equal<SchemaInput<typeof zodAmount>, string>,
  Equal<SchemaOutput<typeof zodAmount>, number>,
  Equal<SchemaInput<typeof valibotAmount>, string>,
  Equal<SchemaOutput<typeof valibotAmount>, number>,
  Equal<SchemaInput<typeof arktypeAmount>, string>,
  Equal<SchemaOutput<typeof arktypeAmount>, number>,
] = [true, true, true, true, true, true]

compileOnly(() => {
  const transport = new MemoryBus().transport()
  const web = new Relay({ serviceName: 'web', transport, contract: quotes })
  web.send('prices.quote', { amount: '12.50' })
  // @ts-expect-error: the amount travels as a string; the receiver's validator makes it a number
  web.send('prices.quote', { amount: 12.5, currency: 'EUR' })
  web.send('prices.latest') // the whole payload has a default
  web.send('prices.watch', {}, { reply: false })
  web.send('prices.quote', { amount: '1' }, (quoted, { outcome }) => {
    const _quoted: Equal<typeof quoted, Quoted> = true
    const _outcome: Equal<typeof outcome, 'prices.quoted'> = true
  })
  web.registerHandler('prices.quote', (quote, { reply, send }) => {
    const _quote: Equal<typeof quote, Quote> = true
    reply('prices.quoted', { total: quote.amount, at: '2026-12-07T04:00:00Z' })
    // @ts-expect-error: `at` travels as an ISO string; the requester's validator makes it a Date
    reply('prices.quoted', { total: quote.amount, at: new Date() })
    send('prices.watch', {}, { reply: false }) // a handler's send takes the input too
  })
  web.registerHandler('prices.latest', (currency, { reply }) => {
    const _currency: Equal<typeof currency, string> = true
    return reply('prices.found', { total: 1 })
  })
})

// A contract built in a loop: a record with an index signature, each name typed by its value
// type (any payload, any outcome), not `never` (which would let a relay accept anything).
const looseSchemas: Record<string, MessageSchemas> = {}
const loose = defineContract(looseSchemas)
const _loose: [
  Equal<
    MessagesOf<typeof loose>,
    { [name: string]: { payload: unknown; replies: { [outcome: string]: unknown } } }
  >,
  Equal<MessagesOf<typeof looseSchemas>, MessagesOf<typeof loose>>,
] = [true, true]

compileOnly(() => {
  const web = new Relay({
    serviceName: 'web',
    transport: new MemoryBus().transport(),
    contract: loose,
  })
  const sent = web.send('anything', { any: 'payload' })
  const _sent: Equal<typeof sent, SentMessage<unknown, ReceivedMessage<unknown, string>>> = true
  new Relay<{ 'orders.place': { payload: string } }>({
    serviceName: 'web',
    transport: new MemoryBus().transport(),
    // @ts-expect-error: a map the contract does not give
    contract: loose,
  })
})

test('send takes the schema input, handlers and awaited replies get its output', async (t) => {
  const bus = new MemoryBus()
  const web = new Relay({ serviceName: 'web', transport: bus.transport(), contract: quotes })
  const prices = new Relay({ serviceName: 'prices', transport: bus.transport(), contract: quotes })
  t.after(() => Promise.all([web.close(), prices.close()]))
  prices.registerHandler('prices.quote', (quote, { reply }) =>
    reply('prices.quoted', { total: quote.amount * 2, at: `2026-12-07T04:00:00Z` }),
  )
  await Promise.all([web.listen(), prices.listen()])

  const quoted = await web.send('prices.quote', { amount: '12.50' })
  const _quoted: Equal<typeof quoted, Quoted> = true
  assert.equal(quoted.total, 25)
  assert.ok(quoted.at instanceof Date)
  const reply = await web.send('prices.quote', { amount: '1' }).envelope()
  const _payload: Equal<typeof reply.payload, Quoted> = true
  assert.equal(reply.payload.at.toISOString(), '2026-12-07T04:00:00.000Z')
})
