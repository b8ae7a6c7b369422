import assert from 'node:assert/strict'
import { once } from 'node:events'
import { type TestContext, test } from 'node:test'
import { startExoCom } from '@exorelay/exocom'
import { deferred, withDeadline } from '@exorelay/testing'
import { ExoRelay, type HandlerContext, TimeoutError } from '../src/index.js'

// Issue 15: a request's deadline and trace context follow it through the real bus, web →
// users → passwords, so that work for a caller that stopped waiting stops at every hop.

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'

async function landscape(t: TestContext) {
  const bus = await startExoCom({ port: 0, logger: false })
  const relays: ExoRelay[] = []
  // The relays first: each withdraws from the bus while it still runs.
  t.after(async () => {
    await withDeadline(
      Promise.all(relays.map((created) => created.close())),
      15_000,
      () => `the relays (${relays.map((r) => r.serviceName).join(', ')}) did not close`,
    )
    await withDeadline(bus.close(), 15_000, () => 'the bus did not close')
  })
  const relay = async (serviceName: string, setup: (relay: ExoRelay) => void = () => {}) => {
    // A short closeTimeout: a handler left waiting must not hold the teardown for 10 s.
    const created = new ExoRelay({
      serviceName,
      exocomPort: bus.port,
      port: 0,
      logger: false,
      closeTimeout: 1_000,
    })
    setup(created)
    relays.push(created)
    await created.listen()
    return created
  }
  return { bus, relay }
}

/** Makes `name` run until its signal aborts, handing its context to `at`. */
function runUntilAborted(
  relay: ExoRelay,
  name: string,
  at: { resolve(ctx: HandlerContext): void },
) {
  relay.registerHandler(name, async (_payload, ctx) => {
    at.resolve(ctx)
    // An aborted signal fires no more events: check first, or the handler would wait for ever.
    if (!ctx.signal.aborted) await once(ctx.signal, 'abort')
  })
}

test('a caller that waits 300 ms stops the work at every hop through the bus', {
  timeout: 20_000,
}, async (t) => {
  const { relay } = await landscape(t)
  const atPasswords = deferred<HandlerContext>()
  const atUsers = deferred<{ ctx: HandlerContext; nested: unknown }>()
  await relay('passwords', (passwords) =>
    runUntilAborted(passwords, 'passwords.encrypt', atPasswords),
  )
  await relay('users', (users) =>
    users.registerHandler('users.create', async (_user, ctx) => {
      // No timeout of its own: without the deadline it would wait the default 10 s.
      const nested = await ctx.send('passwords.encrypt', 'secret').then(
        () => undefined,
        (error: unknown) => error,
      )
      atUsers.resolve({ ctx, nested })
    }),
  )
  const web = await relay('web')

  await assert.rejects(web.send('users.create', { name: 'Will' }, { timeout: 300 }), TimeoutError)
  const passwords = await withDeadline(atPasswords.promise, 5_000, () => 'passwords got nothing')
  const users = await withDeadline(atUsers.promise, 5_000, () => 'the nested send did not end')
  if (!passwords.signal.aborted) {
    await withDeadline(
      once(passwords.signal, 'abort'),
      5_000,
      () => 'the signal at passwords did not abort',
    )
  }

  assert.ok(users.nested instanceof TimeoutError, String(users.nested))
  // Each hop waited at most what its caller had, not the relays' 10 s default: no wall-clock
  // figures here (a loaded machine would make them flake), the deadlines the errors carry.
  assert.ok((users.nested as TimeoutError).timeout <= 300)
  assert.ok(users.ctx.deadline !== undefined)
  assert.ok(passwords.deadline !== undefined)
  assert.ok(passwords.signal.reason instanceof TimeoutError)
  assert.ok(passwords.signal.reason.timeout <= 300)
})

test('trace context that arrives at a service goes on, unchanged, through the bus to the next', {
  timeout: 20_000,
}, async (t) => {
  const { bus, relay } = await landscape(t)
  const atPasswords = deferred<HandlerContext>()
  const atUsers = deferred<HandlerContext>()
  await relay('passwords', (passwords) =>
    passwords.registerHandler('passwords.encrypt', (_password, ctx) => {
      atPasswords.resolve(ctx)
      return ctx.reply('passwords.encrypted', 'hash')
    }),
  )
  await relay('users', (users) =>
    users.registerHandler('users.create', async (_user, ctx) => {
      atUsers.resolve(ctx)
      await ctx.send('passwords.encrypt', 'secret', { timeout: 5_000 })
    }),
  )

  // As a traced web server's relay would send it.
  const sent = await fetch(`${bus.url}/send/users.create`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sender: 'web', id: 'm-1', traceparent: TRACEPARENT, tracestate: 'a=1' }),
    signal: AbortSignal.timeout(5_000),
  })
  assert.equal(sent.status, 200)
  const users = await withDeadline(atUsers.promise, 5_000, () => 'users got nothing')
  const passwords = await withDeadline(atPasswords.promise, 5_000, () => 'passwords got nothing')

  assert.equal(users.traceparent, TRACEPARENT)
  assert.equal(passwords.traceparent, TRACEPARENT)
  assert.equal(passwords.tracestate, 'a=1')
  // users.create came without a deadline (fire-and-forget); the nested send has its own.
  assert.equal(users.deadline, undefined)
  assert.ok(passwords.timeLeft() <= 5_000)
})

test('a caller that aborts cancels the handler through the bus, and what it waits for', {
  timeout: 20_000,
}, async (t) => {
  const { relay } = await landscape(t)
  const atPasswords = deferred<HandlerContext>()
  const atUsers = deferred<HandlerContext>()
  await relay('passwords', (passwords) =>
    runUntilAborted(passwords, 'passwords.encrypt', atPasswords),
  )
  await relay('users', (users) =>
    users.registerHandler('users.create', async (_user, ctx) => {
      atUsers.resolve(ctx)
      await ctx.send('passwords.encrypt', 'secret').catch(() => {})
    }),
  )
  const web = await relay('web')

  const controller = new AbortController()
  const sent = web.send('users.create', {}, { timeout: 60_000, signal: controller.signal })
  // Aborted once the work reached the last hop: every hop has something to stop.
  const passwords = await withDeadline(atPasswords.promise, 5_000, () => 'passwords got nothing')
  controller.abort()
  await assert.rejects(sent, { code: 'EXORELAY_ERR_REPLY_ABORTED' })
  const users = await withDeadline(atUsers.promise, 5_000, () => 'users got nothing')
  for (const ctx of [users, passwords]) {
    if (!ctx.signal.aborted) {
      await withDeadline(once(ctx.signal, 'abort'), 5_000, () => `${ctx.name} was not cancelled`)
    }
  }

  assert.match(String(users.signal.reason), /The caller cancelled 'users\.create'/)
  assert.match(String(passwords.signal.reason), /The caller cancelled 'passwords\.encrypt'/)
})
