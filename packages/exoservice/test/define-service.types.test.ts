/**
 * Type tests of `defineService`. `npm run typecheck` compiles this file: each
 * `@ts-expect-error` line must fail to compile (an unused directive is itself an error), and
 * each `const _: Equal<A, B> = true` must hold. The `test()` runs a correct use for real.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { defineContract, type ExoRelay, type Logger, type MessagesOf } from 'exorelay'
import { z } from 'zod'
import { defineService, type LifecycleContext } from '../src/define-service.js'
import { startService } from '../src/start-service.js'

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
  'passwords.encrypt': { payload: string; replies: { 'passwords.encrypted': string } }
}

/** Holds code that must compile (or fail to) without ever running it. */
function compileOnly(_code: () => void): void {}

compileOnly(() => {
  // A handler map written inline in startService: the map's overload comes first, so its
  // handlers are typed (a folder's overload would leave their parameters implicitly any).
  void startService(
    defineService({
      'greetings.hello': async (name: string, { reply }) => {
        await reply('greetings.said', `Hello, ${name}!`)
      },
    }),
    { serviceName: 'greeter' },
  )
  void startService(
    defineService<Messages>({
      'users.count': (_payload, { reply }) => reply('users.counted', 1),
    }),
  )
  void startService('./users', { port: 0 })
  void startService(new URL('file:///srv/users/'))
})

compileOnly(() => {
  defineService<Messages>({
    beforeAll(context) {
      const _context: Equal<typeof context, LifecycleContext<Messages>> = true
      const _relay: Equal<typeof context.relay, ExoRelay<Messages>> = true
      const _log: Equal<typeof context.log, Logger> = true
      const _signal: Equal<typeof context.signal, AbortSignal> = true
    },
    'users.create': async (user, { reply, send }) => {
      const _payload: Equal<typeof user, { name: string }> = true
      const hash = await send('passwords.encrypt', 'secret')
      const _hash: Equal<typeof hash, string> = true
      reply('users.created', { id: 1, name: user.name })
      reply('users.not-created', { reason: 'taken' })
      // @ts-expect-error: not an outcome of users.create
      reply('users.made', { id: 1, name: user.name })
      // @ts-expect-error: the outcome's payload is a User
      reply('users.created', { id: 'one', name: user.name })
      // @ts-expect-error: the payload has no such field
      user.email
    },
    'users.count': (_payload, { reply }) => {
      reply('users.counted', 3)
      // @ts-expect-error: users.counted carries a number
      reply('users.counted', 'three')
    },
    afterAll({ relay }) {
      const _relay: Equal<typeof relay, ExoRelay<Messages>> = true
    },
  })

  defineService<Messages>({
    // @ts-expect-error: not a message of the map
    'users.delete': () => {},
  })

  defineService<Messages>({
    // @ts-expect-error: a hook takes the lifecycle context, which has no payload fields
    beforeAll: (context: { name: string }) => context.name,
  })

  // Untyped, any message name and payload fits.
  defineService({
    'anything.at-all': (payload, { reply }) => reply('anything.done', payload),
    async afterAll({ log }) {
      log.info({}, 'bye')
    },
  })
})

// Given a contract first, the handlers are typed by it: no type argument, no second map.
compileOnly(() => {
  const contract = defineContract({
    'users.create': {
      payload: z.object({ name: z.string() }),
      replies: { 'users.created': z.object({ id: z.number(), name: z.string() }) },
    },
  })
  defineService(contract, {
    'users.create': (user, { reply }) => {
      const _user: Equal<typeof user, { name: string }> = true
      reply('users.created', { id: 1, name: user.name })
      // @ts-expect-error: the outcome's id is a number
      reply('users.created', { id: '1', name: user.name })
    },
    afterAll({ relay }) {
      const _relay: Equal<typeof relay, ExoRelay<MessagesOf<typeof contract>>> = true
    },
  })
  defineService(contract, {
    // @ts-expect-error: not a message of the contract
    'users.delete': () => {},
  })
})

// A contract whose schemas change the data: the handlers get each schema's output, their
// `reply` and `send` take its input, what travels.
compileOnly(() => {
  const contract = defineContract({
    'users.invite': {
      payload: z.object({ email: z.string(), role: z.string().default('member') }),
      replies: { 'users.invited': z.object({ since: z.iso.date().transform((d) => new Date(d)) }) },
    },
    'mail.send': { payload: z.object({ to: z.string(), priority: z.number().default(0) }) },
  })
  defineService(contract, {
    'users.invite': (invite, { reply, send }) => {
      const _invite: Equal<typeof invite, { email: string; role: string }> = true
      send('mail.send', { to: invite.email }, { reply: false })
      reply('users.invited', { since: '2026-12-07' })
      // @ts-expect-error: since travels as an ISO date string, the requester gets a Date
      reply('users.invited', { since: new Date() })
    },
  })
})

test('defineService returns the handler map it is given', () => {
  const definition = { 'users.create': () => {} }
  assert.equal(defineService(definition), definition)
})
