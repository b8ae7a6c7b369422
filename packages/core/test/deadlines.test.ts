import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { once } from 'node:events'
import { type TestContext, test } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import fc from 'fast-check'
import { MAX_MESSAGE_TIMEOUT, parseEnvelope } from '../src/envelope.js'
import { AbortError, ClosedError, TimeoutError } from '../src/errors.js'
import type { Logger } from '../src/logger.js'
import { silentLogger } from '../src/logger.js'
import { MemoryBus } from '../src/memory-transport.js'
import { Relay } from '../src/relay.js'
import type { HandlerContext } from '../src/relay-types.js'

// Issue 15: a request's deadline and trace follow it through every service. Each hop gets the
// time its caller still waits, and the sends of its handler inherit it.

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'

async function landscape(t: TestContext, logger: Logger = silentLogger) {
  const bus = new MemoryBus()
  const relay = (
    serviceName: string,
    options: { closeTimeout?: number; concurrency?: number } = {},
  ) => {
    const created = new Relay({ serviceName, transport: bus.transport(), logger, ...options })
    t.after(() => created.close())
    return created
  }
  return { bus, relay }
}

/** A promise and its resolve, for a handler to hand its context out. */
function handed<T>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

/**
 * Makes `users.create` run until its signal aborts (after `work`, when given), and hands out
 * its context.
 */
function runUntilAborted(users: Relay, work?: (ctx: HandlerContext) => Promise<void>) {
  const context = handed<HandlerContext>()
  users.registerHandler('users.create', async (_user, ctx) => {
    context.resolve(ctx)
    await work?.(ctx)
    if (!ctx.signal.aborted) await once(ctx.signal, 'abort')
  })
  return context
}

test("a request's deadline reaches its handler: the signal aborts when the caller stops waiting", async (t) => {
  const { relay } = await landscape(t)
  const users = relay('users')
  const web = relay('web')
  const context = runUntilAborted(users)
  await users.listen()
  await web.listen()

  const sent = web.send('users.create', {}, { timeout: 300 })
  const ctx = await context.promise

  assert.ok(
    ctx.deadline !== undefined && Math.abs(ctx.deadline - (Date.now() + ctx.timeLeft())) < 50,
  )
  assert.ok(ctx.timeLeft() <= 300, `${ctx.timeLeft()} ms left`)
  await assert.rejects(sent, TimeoutError)
  if (!ctx.signal.aborted) await once(ctx.signal, 'abort')
  assert.ok(ctx.signal.reason instanceof TimeoutError)
  assert.match(ctx.signal.reason.message, /^The deadline of 'users\.create' \(id .+\) passed/)
  assert.equal(ctx.timeLeft(), 0)
  // The caller's deadline, not the relay's 10 s default (no timing: the test must not flake).
  assert.ok(ctx.signal.reason.timeout <= 300)
})

test('a nested send inherits the time left, and once it is gone rejects without sending', async (t) => {
  const { bus, relay } = await landscape(t)
  const users = relay('users')
  const passwords = relay('passwords')
  const web = relay('web')
  const nested = handed<{ error: unknown; late: unknown }>()
  passwords.registerHandler('passwords.encrypt', () => {
    // Never answers: the nested send waits for its inherited deadline.
  })
  users.registerHandler('users.create', async (_user, ctx) => {
    // No timeout of its own: the relay's default would be 10 s.
    const error = await ctx.send('passwords.encrypt', 'secret').then(
      () => undefined,
      (rejection: unknown) => rejection,
    )
    const late = await ctx.send('passwords.encrypt', 'again').then(
      () => undefined,
      (rejection: unknown) => rejection,
    )
    nested.resolve({ error, late })
  })
  for (const r of [users, passwords, web]) await r.listen()

  await assert.rejects(web.send('users.create', {}, { timeout: 300 }), TimeoutError)
  const { error, late } = await nested.promise

  assert.ok(error instanceof TimeoutError, String(error))
  // It waited at most the 300 ms its caller had, not its 10 s default.
  assert.ok((error as TimeoutError).timeout <= 300, String((error as TimeoutError).timeout))
  const encrypts = bus.deliveries.filter((d) => d.message.name === 'passwords.encrypt')
  assert.equal(encrypts.length, 1, 'the send after the deadline reached the bus')
  assert.ok((encrypts[0]!.message.timeout ?? 0) <= 300)
  assert.ok(late instanceof TimeoutError)
  assert.match(late.message, /^'passwords\.encrypt' was not sent: the deadline of 'users\.create'/)
})

test('the trace context goes on unchanged to nested sends and replies, and ctx.log carries the trace id', async (t) => {
  const bound: object[] = []
  const logger: Logger = {
    ...silentLogger,
    child: (bindings) => {
      bound.push(bindings)
      return silentLogger
    },
  }
  const { bus, relay } = await landscape(t, logger)
  const users = relay('users')
  const passwords = relay('passwords')
  passwords.registerHandler('passwords.encrypt', (_p, { reply }) => reply('passwords.encrypted'))
  users.registerHandler('users.create', async (_user, ctx) => {
    ctx.log.info({}, 'creating')
    await ctx.send('passwords.encrypt', 'x')
    await ctx.reply('users.created')
  })
  for (const r of [users, passwords]) await r.listen()

  // A message from outside with trace context, as a traced web server would send it: straight
  // from a transport, since a relay sends trace context only as a handler's.
  const sent = handed<void>()
  const transport = bus.transport()
  t.after(() => transport.close())
  await transport.listen({
    serviceName: 'tracer',
    receive: () => {
      sent.resolve()
      return { status: 'accepted' }
    },
    handledNames: () => ['users.created'],
    status: () => ({
      state: 'online',
      pendingReplies: 0,
      runningHandlers: 0,
      queuedMessages: 0,
      bus: 'reachable',
      registered: true,
    }),
    port: undefined,
  })
  await transport.send(
    {
      name: 'users.create',
      id: 'm-1',
      sender: 'tracer',
      traceparent: TRACEPARENT,
      tracestate: 'a=1',
    },
    { timeout: 5_000 },
  )
  await sent.promise

  for (const name of ['passwords.encrypt', 'passwords.encrypted', 'users.created']) {
    const delivery = bus.deliveries.find((d) => d.message.name === name)
    assert.equal(delivery?.message.traceparent, TRACEPARENT, name)
    assert.equal(delivery?.message.tracestate, 'a=1', name)
  }
  assert.deepEqual(bound, [
    { messageName: 'users.create', messageId: 'm-1', traceId: '4bf92f3577b34da6a3ce929d0e0e4736' },
  ])
})

/**
 * users handles one message at a time, and its handler of 'first' waits for `release`: a
 * second message waits in the queue behind it.
 */
async function oneAtATime(t: TestContext) {
  const { relay } = await landscape(t)
  const users = relay('users', { concurrency: 1 })
  const web = relay('web')
  const handled: string[] = []
  const release = handed<void>()
  users.registerHandler('users.create', async (name: string) => {
    handled.push(name)
    if (name === 'first') await release.promise
  })
  await users.listen()
  await web.listen()
  return { users, web, handled, release }
}

test('a message whose deadline passed while it waited in the queue is not handled', async (t) => {
  const { users, web, handled, release } = await oneAtATime(t)

  // The receiver counts the deadline from arrival: it is known to have arrived (queued behind
  // the first) once it was dispatched.
  const queued = handed<void>()
  const onReceive = ({ message }: { message: { payload?: unknown } }) => {
    if (message.payload === 'second') queued.resolve()
  }
  subscribe('exorelay:message:receive', onReceive as (message: unknown) => void)
  t.after(() => unsubscribe('exorelay:message:receive', onReceive as (message: unknown) => void))
  const first = web.send('users.create', 'first', { timeout: 5_000 })
  const second = web.send('users.create', 'second', { timeout: 1 })
  await queued.promise
  // A deadline of 1 ms after arrival: passed 20 ms later however loaded the machine is.
  await delay(20)
  release.resolve()
  // The first handler has ended; the second message, whose caller gave up, never ran.
  await users.close()
  first.catch(() => {})
  await assert.rejects(second, TimeoutError)

  assert.deepEqual(handled, ['first'])
})

test('a request its caller cancels while it waits in the queue is not handled', async (t) => {
  const { users, web, handled, release } = await oneAtATime(t)
  const queued = handed<void>()
  const cancelled = handed<void>()
  const onReceive = ({ message }: { message: { name: string; payload?: unknown } }) => {
    if (message.payload === 'second') queued.resolve()
    if (message.name === '__cancel') cancelled.resolve()
  }
  subscribe('exorelay:message:receive', onReceive as (message: unknown) => void)
  t.after(() => unsubscribe('exorelay:message:receive', onReceive as (message: unknown) => void))

  const first = web.send('users.create', 'first', { timeout: 5_000 })
  const controller = new AbortController()
  const second = web.send('users.create', 'second', { timeout: 5_000, signal: controller.signal })
  // Queued behind the first, then cancelled.
  await queued.promise
  controller.abort()
  await assert.rejects(second, AbortError)
  // The cancellation reached users while the second request still waited behind the first.
  await cancelled.promise
  release.resolve()
  await first.catch(() => {})
  await users.close()
  assert.deepEqual(handled, ['first'])
})

test('a reply that comes after its sender gave up is taken quietly, not refused as unknown', async (t) => {
  const { bus, relay } = await landscape(t)
  const users = relay('users')
  const web = relay('web')
  const release = handed<void>()
  const replied = handed<void>()
  users.registerHandler('users.create', async (_user, { reply }) => {
    await release.promise
    await reply('users.created', {})
    replied.resolve()
  })
  await users.listen()
  await web.listen()
  await assert.rejects(web.send('users.create', {}, { timeout: 20 }), TimeoutError)
  release.resolve()
  await replied.promise
  const late = bus.deliveries.find((d) => d.message.name === 'users.created')
  assert.equal(late?.receiver, 'web')
  assert.equal(late?.receipt.status, 'accepted')
})

test('a handler that fails after its caller stopped waiting sends no error reply, and says why', async (t) => {
  const warnings: string[] = []
  const logger: Logger = {
    ...silentLogger,
    warn: (_fields: object, message: string) => {
      warnings.push(message)
    },
  }
  const { bus, relay } = await landscape(t, logger)
  const users = relay('users')
  const web = relay('web')
  const failed = handed<void>()
  users.registerHandler('users.create', async (_user, { signal }) => {
    try {
      if (!signal.aborted) await once(signal, 'abort')
      throw signal.reason
    } finally {
      failed.resolve()
    }
  })
  await users.listen()
  await web.listen()
  await assert.rejects(web.send('users.create', {}, { timeout: 20 }), TimeoutError)
  await failed.promise
  // The failure is handled in the microtask after the handler's promise rejected.
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(warnings, ['handler failed after its caller stopped waiting'])
  assert.equal(
    bus.deliveries.some((d) => d.message.name === '__error'),
    false,
    'an error reply went out to nobody',
  )
})

test('close() that gives up on a handler aborts its signal with a ClosedError', async (t) => {
  const { relay } = await landscape(t)
  const users = relay('users', { closeTimeout: 50 })
  const web = relay('web')
  const context = runUntilAborted(users)
  await users.listen()
  await web.listen()
  web.send('users.create', {}, { timeout: 60_000 }).catch(() => {})
  const ctx = await context.promise

  await users.close()

  assert.ok(ctx.signal.aborted)
  assert.ok(ctx.signal.reason instanceof ClosedError)
})

test('bad deadlines and trace contexts from the wire are dropped or clamped, never refused', () => {
  fc.assert(
    fc.property(fc.anything(), fc.anything(), fc.anything(), (timeout, traceparent, tracestate) => {
      const envelope = parseEnvelope('x', { id: 'm', timeout, traceparent, tracestate })
      if (envelope.timeout !== undefined) {
        assert.ok(Number.isInteger(envelope.timeout))
        assert.ok(envelope.timeout > 0 && envelope.timeout <= MAX_MESSAGE_TIMEOUT)
      }
      if (envelope.traceparent === undefined) assert.equal(envelope.tracestate, undefined)
    }),
  )
  const parse = (fields: object) => parseEnvelope('x', { id: 'm', ...fields })
  assert.equal(parse({ timeout: 1e12 }).timeout, MAX_MESSAGE_TIMEOUT)
  assert.equal(parse({ timeout: 2.5 }).timeout, 3)
  for (const timeout of [0, -5, Number.NaN, '300', null]) {
    assert.equal(parse({ timeout }).timeout, undefined)
  }
  assert.equal(parse({ traceparent: TRACEPARENT }).traceparent, TRACEPARENT)
  for (const traceparent of [
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01', // all-zero trace id
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01', // all-zero parent id
    'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', // version ff
    '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01', // uppercase
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra', // v00 with more
    '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01', // short trace id
  ]) {
    assert.equal(parse({ traceparent, tracestate: 'a=1' }).traceparent, undefined, traceparent)
    assert.equal(parse({ traceparent, tracestate: 'a=1' }).tracestate, undefined)
  }
  // A later version keeps the four fields every version has, as version 00.
  assert.equal(parse({ traceparent: `01${TRACEPARENT.slice(2)}-future` }).traceparent, TRACEPARENT)
  assert.equal(
    parse({ traceparent: TRACEPARENT, tracestate: 'x'.repeat(513) }).tracestate,
    undefined,
  )
})

test('a tracestate is kept only as the W3C grammar writes it, and dropped whole otherwise', () => {
  const tracestate = (value: unknown) =>
    parseEnvelope('x', { id: 'm', traceparent: TRACEPARENT, tracestate: value }).tracestate
  for (const kept of [
    'a=1',
    'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7',
    'rojo=00f067aa0ba902b7 , congo=t61rcWkgMzE', // spaces around members
    'tenant@vendor=x',
    'a=1,,b=2', // an empty member
    'k=value with spaces',
    Array.from({ length: 32 }, (_, i) => `k${i}=v`).join(','),
  ]) {
    assert.equal(tracestate(kept), kept, kept)
  }
  for (const dropped of [
    'A=1', // uppercase key
    'a=', // empty value
    'a=1,b', // a member without "="
    '=1',
    'a=1=2',
    'a=ü',
    '1a=x', // a simple key starts with a letter
    'a@B=x',
    ',',
    'a=b\r\n,c=d', // control characters, which trim() would have taken for whitespace
    'a=b\v',
    '\u2028a=b',
    'a=b\t',
    Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(','),
  ]) {
    assert.equal(tracestate(dropped), undefined, dropped)
  }
  const key = fc.stringMatching(/^[a-z][a-z0-9_*/-]{0,20}$/)
  const value = fc.stringMatching(/^[!-+\--<>-~]{1,20}$/)
  fc.assert(
    fc.property(fc.array(fc.tuple(key, value), { minLength: 1, maxLength: 32 }), (members) => {
      const list = members.map(([k, v]) => `${k}=${v}`).join(',')
      if (list.length <= 512) assert.equal(tracestate(list), list)
    }),
  )
  // Nothing outside printable ASCII is ever kept: no control character reaches a header or a log.
  fc.assert(
    fc.property(
      fc.string({ maxLength: 100 }),
      fc
        .string({ unit: 'binary', minLength: 1, maxLength: 3 })
        .filter((c) => /[^\x20-\x7e]/.test(c)),
      fc.string({ maxLength: 100 }),
      (before, bad, after) => {
        assert.equal(tracestate(`a=1${before}${bad}${after}`), undefined)
        assert.equal(tracestate(`a=1,${before}${bad}`), undefined)
      },
    ),
  )
})

test('a caller that aborts its send cancels the handler, and what the handler waits for', async (t) => {
  const { bus, relay } = await landscape(t)
  const users = relay('users')
  const passwords = relay('passwords')
  const web = relay('web')
  const atPasswords = handed<HandlerContext>()
  passwords.registerHandler('passwords.encrypt', (_password, ctx) => {
    atPasswords.resolve(ctx)
    return once(ctx.signal, 'abort')
  })
  const atUsers = runUntilAborted(users, async (ctx) => {
    await ctx.send('passwords.encrypt', 'secret').catch(() => {})
  })
  for (const r of [users, passwords, web]) await r.listen()

  const controller = new AbortController()
  const sent = web.send('users.create', {}, { timeout: 60_000, signal: controller.signal })
  const passwordsCtx = await atPasswords.promise
  controller.abort()
  await assert.rejects(sent, AbortError)
  const usersCtx = await atUsers.promise
  if (!usersCtx.signal.aborted) await once(usersCtx.signal, 'abort')
  if (!passwordsCtx.signal.aborted) await once(passwordsCtx.signal, 'abort')

  assert.ok(usersCtx.signal.reason instanceof AbortError)
  assert.match(usersCtx.signal.reason.message, /^The caller cancelled 'users\.create'/)
  // users' own send was cancelled in turn: passwords learns it too.
  assert.ok(passwordsCtx.signal.reason instanceof AbortError)
  const cancels = bus.deliveries.filter((d) => d.message.name === '__cancel')
  assert.deepEqual(
    cancels.map((d) => d.receiver),
    ['users', 'passwords'],
  )
})

test('no cancellation is sent for a send that already has its reply, nor for a deadline', async (t) => {
  const { bus, relay } = await landscape(t)
  const users = relay('users')
  const web = relay('web')
  users.registerHandler('users.create', (_user, { reply }) => reply('users.created'))
  users.registerHandler('users.slow', (_user, { signal }) => once(signal, 'abort'))
  await users.listen()
  await web.listen()

  const controller = new AbortController()
  await web.send('users.create', {}, { signal: controller.signal })
  controller.abort()
  await assert.rejects(web.send('users.slow', {}, { timeout: 100 }), TimeoutError)
  // The bus routes in order: a cancellation sent above would be recorded before this reply.
  await web.send('users.create', {})

  assert.deepEqual(
    bus.deliveries.filter((d) => d.message.name === '__cancel'),
    [],
  )
})

test('a send that waits for ever gives its receiver no deadline, and events after a deadline still go out', async (t) => {
  const { bus, relay } = await landscape(t)
  const users = relay('users')
  const web = relay('web')
  const audit = relay('audit')
  const published = handed<void>()
  audit.registerHandler('users.created', () => published.resolve())
  const seen = handed<{ left: number; aborted: boolean }>()
  users.registerHandler('users.forever', (_user, { timeLeft, signal, reply }) => {
    // Destructured: the context's functions do not need it as `this`.
    seen.resolve({ left: timeLeft(), aborted: signal.aborted })
    return reply('users.done')
  })
  users.registerHandler('users.create', async (_user, ctx) => {
    if (!ctx.signal.aborted) await once(ctx.signal, 'abort')
    // The caller stopped waiting, but the work is done: its event is still published.
    await ctx.send('users.created', {}, { reply: false })
  })
  for (const r of [users, web, audit]) await r.listen()

  await web.send('users.forever', {}, { timeout: Number.POSITIVE_INFINITY })
  assert.deepEqual(await seen.promise, { left: Number.POSITIVE_INFINITY, aborted: false })
  await assert.rejects(web.send('users.create', {}, { timeout: 50 }), TimeoutError)
  await published.promise
  assert.equal(bus.deliveries.filter((d) => d.message.name === 'users.created').length, 1)
})
