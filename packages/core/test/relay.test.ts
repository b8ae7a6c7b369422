import assert from 'node:assert/strict'
import { once } from 'node:events'
import { after, before, type TestContext, test } from 'node:test'
import { setImmediate as nextTurn } from 'node:timers/promises'
import {
  AbortError,
  ClosedError,
  ErrorCodes,
  HandlerError,
  ListenError,
  TimeoutError,
  TransportError,
} from '../src/errors.js'
import type { Logger } from '../src/logger.js'
import { MemoryBus } from '../src/memory-transport.js'
import { checkPort } from '../src/options.js'
import type { Timers } from '../src/pending-replies.js'
import { DEFAULT_TIMEOUT, Relay } from '../src/relay.js'
import type { HandlerContext } from '../src/relay-types.js'
import type { Endpoint, Receipt, Transport, TransportSendOptions } from '../src/transport.js'

type Level = 'debug' | 'info' | 'warn' | 'error'

interface LogEntry {
  level: Level
  bindings: Record<string, unknown>
  message: string | undefined
}

/** A Logger that keeps every entry, and lets a test await one. */
class RecordingLogger implements Logger {
  readonly entries: LogEntry[] = []
  readonly #waiters: Array<{
    match: (entry: LogEntry) => boolean
    resolve: (entry: LogEntry) => void
  }> = []

  debug(bindings: object, message?: string): void {
    this.#record('debug', bindings, message)
  }
  info(bindings: object, message?: string): void {
    this.#record('info', bindings, message)
  }
  warn(bindings: object, message?: string): void {
    this.#record('warn', bindings, message)
  }
  error(bindings: object, message?: string): void {
    this.#record('error', bindings, message)
  }
  child(): Logger {
    return this
  }

  /** Entries of `level` about the message named `messageName`. */
  about(level: Level, messageName: string): LogEntry[] {
    return this.entries.filter((e) => e.level === level && e.bindings.messageName === messageName)
  }

  /**
   * Resolves with the first entry (logged already or later) that `match` accepts; rejects
   * naming the latest entries when none does within `timeout` ms.
   */
  waitFor(match: (entry: LogEntry) => boolean, timeout = 10_000): Promise<LogEntry> {
    const found = this.entries.find(match)
    if (found) return Promise.resolve(found)
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (entry: LogEntry) => {
          clearTimeout(timer)
          resolve(entry)
        },
      }
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1)
        const last = this.entries.slice(-5).map((e) => `${e.level} '${e.message ?? ''}'`)
        reject(
          new Error(
            `waitFor: no log entry matched within ${timeout} ms; last entries: ${last.join('; ') || 'none'}`,
          ),
        )
      }, timeout)
      timer.unref()
      this.#waiters.push(waiter)
    })
  }

  #record(level: Level, bindings: object, message: string | undefined): void {
    const entry: LogEntry = { level, bindings: { ...bindings }, message }
    this.entries.push(entry)
    for (const waiter of [...this.#waiters]) {
      if (waiter.match(entry)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1)
        waiter.resolve(entry)
      }
    }
  }
}

interface Deferred<T> {
  promise: Promise<T>
  resolve(value: T): void
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((res) => {
    resolve = res
  })
  return { promise, resolve }
}

/** Records unhandled rejections while the test runs. */
function unhandledRejections(t: TestContext): unknown[] {
  const seen: unknown[] = []
  const listener = (reason: unknown): void => {
    seen.push(reason)
  }
  process.on('unhandledRejection', listener)
  t.after(() => process.off('unhandledRejection', listener))
  return seen
}

/** A fresh bus with `web` and `users` relays listening on it, closed when the test ends. */
async function freshPair(t: TestContext): Promise<{ bus: MemoryBus; web: Relay; users: Relay }> {
  const bus = new MemoryBus()
  const web = new Relay({ serviceName: 'web', transport: bus.transport() })
  const users = new Relay({ serviceName: 'users', transport: bus.transport() })
  t.after(() => Promise.all([web.close(), users.close()]))
  await Promise.all([web.listen(), users.listen()])
  return { bus, web, users }
}

function deliveriesOf(bus: MemoryBus, name: string): Array<MemoryBus['deliveries'][number]> {
  return bus.deliveries.filter((delivery) => delivery.message.name === name)
}

/**
 * Deadlines that keep the process alive. The relay's default timers are unref'd, and nothing
 * else holds the event loop open over a memory bus (no socket), so a test awaiting a timeout
 * would otherwise end with its promise still pending.
 */
const refTimers: Timers = {
  setTimeout: (callback, milliseconds) => setTimeout(callback, milliseconds),
  clearTimeout: (handle) => clearTimeout(handle),
}

// The shared bus: `web` asks, `users` answers. Each test uses its own message names.
const bus = new MemoryBus()
const webLog = new RecordingLogger()
const usersLog = new RecordingLogger()
const web = new Relay({
  serviceName: 'web',
  transport: bus.transport(),
  logger: webLog,
  timers: refTimers,
})
const users = new Relay({
  serviceName: 'users',
  transport: bus.transport(),
  logger: usersLog,
  timers: refTimers,
})

before(() => Promise.all([web.listen(), users.listen()]))
after(() => Promise.all([web.close(), users.close()]))

test('an awaited send resolves with the payload of the reply', async () => {
  users.registerHandler('users.create', (user: { name: string }, { reply }) =>
    reply('users.created', { id: 456, name: user.name }),
  )
  const created = await web.send('users.create', { name: 'Will Riker' })
  assert.deepEqual(created, { id: 456, name: 'Will Riker' })
})

test('envelope() resolves with the outcome name, its id and the responseTo of the reply', async () => {
  users.registerHandler('users.find', (_query, { reply }) => reply('users.found', [{ id: 1 }]))
  const sent = web.send('users.find', { id: 1 })
  const reply = await sent.envelope()
  assert.ok(reply)
  assert.equal(reply.name, 'users.found')
  assert.equal(reply.responseTo, sent.id)
  assert.equal(typeof reply.id, 'string')
  assert.notEqual(reply.id, sent.id)
  assert.equal(reply.sender, 'users')
  assert.deepEqual(reply.payload, [{ id: 1 }])
})

test('a send without payload sends no payload key and the handler gets undefined', async () => {
  const got = deferred<unknown[]>()
  users.registerHandler('users.count', (...args) => got.resolve(args))
  await web.send('users.count', undefined, { reply: false })
  const [payload] = await got.promise
  assert.equal(payload, undefined)
  const [delivery] = deliveriesOf(bus, 'users.count')
  assert.equal(Object.hasOwn(delivery?.message ?? {}, 'payload'), false)
})

test('a reply callback gets every outcome with its name until end() stops it', async () => {
  const repliesSent = deferred<Receipt[]>()
  users.registerHandler('photos.upload', async (_photo, { reply }) => {
    await reply('photos.progress', 50)
    await reply('photos.stored', { url: '/p/1' })
    await reply('photos.ignored', 'too late')
    repliesSent.resolve(deliveriesOf(bus, 'photos.ignored').map((d) => d.receipt))
  })
  const outcomes: Array<[string, unknown]> = []
  const answered: string[] = []
  const sent = web.send('photos.upload', { size: 1 }, (payload, { outcome, end, responseTo }) => {
    answered.push(responseTo)
    outcomes.push([outcome, payload])
    if (outcome === 'photos.stored') end()
  })
  assert.equal(await sent, undefined)
  assert.deepEqual(outcomes, [
    ['photos.progress', 50],
    ['photos.stored', { url: '/p/1' }],
  ])
  assert.deepEqual(answered, [sent.id, sent.id])
  const [receipt] = await repliesSent.promise
  assert.equal(receipt?.status, 'unknown', 'a reply after end() finds no waiter')
  assert.equal(outcomes.length, 2)
  assert.equal(web.pendingReplies, 0)
})

test('a reply that arrives before the send is awaited is not lost', async () => {
  const replied = deferred()
  users.registerHandler('users.get', async (id: number, { reply }) => {
    await reply('users.got', { id })
    replied.resolve()
  })
  const pending = web.send('users.get', 7)
  await replied.promise
  assert.equal(web.pendingReplies, 0, 'the reply has settled the wait already')
  assert.deepEqual(await pending, { id: 7 })
})

test('a send with { reply: false } holds nothing and resolves once the bus accepted it', async () => {
  const received = deferred<unknown>()
  users.registerHandler('users.log', (payload) => received.resolve(payload))
  const sent = web.send('users.log', { line: 1 }, { reply: false })
  assert.equal(web.pendingReplies, 0)
  assert.equal(await sent, undefined)
  assert.equal(deliveriesOf(bus, 'users.log').length, 1, 'the bus had delivered it')
  assert.deepEqual(await received.promise, { line: 1 })
  assert.equal(web.pendingReplies, 0)
})

test('reply() in a handler sends exactly one message and waits for nothing', async () => {
  let pendingWhileReplying = -1
  users.registerHandler('users.rename', async (name: string, { reply }) => {
    const replying = reply('users.renamed', name)
    pendingWhileReplying = users.pendingReplies
    assert.equal(await replying, undefined)
  })
  const sent = web.send('users.rename', 'Jean-Luc')
  assert.equal(await sent, 'Jean-Luc')
  assert.equal(pendingWhileReplying, 0)
  const replies = bus.deliveries.filter((d) => d.message.responseTo === sent.id)
  assert.equal(replies.length, 1)
  assert.equal(replies[0]?.message.name, 'users.renamed')
  assert.equal(replies[0]?.receiver, 'web')
})

test('a handler gets the name, id, responseTo and sender of its message', async () => {
  const seen = deferred<HandlerContext>()
  const answerSeen = deferred<HandlerContext>()
  users.registerHandler('ctx.question', (_payload, ctx) => {
    seen.resolve(ctx)
    ctx.reply('ctx.answer', 42)
  })
  // The question expects no reply, so the answer falls through to web's handler for its name.
  web.registerHandler('ctx.answer', (_payload, ctx) => answerSeen.resolve(ctx))
  const sent = web.send('ctx.question', 'why?', { reply: false })
  await sent
  const ctx = await seen.promise
  assert.equal(ctx.name, 'ctx.question')
  assert.equal(ctx.id, sent.id)
  assert.equal(ctx.responseTo, undefined)
  assert.equal(ctx.sender, 'web')
  assert.equal(typeof ctx.send, 'function')
  const answer = await answerSeen.promise
  assert.equal(answer.name, 'ctx.answer')
  assert.equal(answer.responseTo, sent.id)
  assert.equal(answer.sender, 'users')
  assert.notEqual(answer.id, sent.id)
})

test('a handler can send, await the reply, then reply itself', async (t) => {
  const passwords = new Relay({ serviceName: 'passwords', transport: bus.transport() })
  t.after(() => passwords.close())
  await passwords.listen()
  passwords.registerHandler('passwords.encrypt', (password: string, { reply }) =>
    reply('passwords.encrypted', `hashed(${password})`),
  )
  users.registerHandler(
    'users.register',
    async (user: { name: string; password: string }, { send, reply }) => {
      const hash = await send('passwords.encrypt', user.password)
      await reply('users.registered', { name: user.name, hash })
    },
  )
  const registered = await web.send('users.register', { name: 'Will', password: 'secret' })
  assert.deepEqual(registered, { name: 'Will', hash: 'hashed(secret)' })
  const encrypt = deliveriesOf(bus, 'passwords.encrypt')[0]?.message
  assert.equal(encrypt?.sender, 'users')
  assert.equal(encrypt?.responseTo, undefined, 'a send from a handler is a new message')
  assert.equal(users.pendingReplies, 0)
  assert.equal(passwords.pendingReplies, 0)
})

test('a handler that throws makes the receipt failed with HANDLER_FAILED and is logged', async () => {
  const boom = new Error('boom')
  users.registerHandler('users.explode', () => {
    throw boom
  })
  const sent = web.send('users.explode', 1, { reply: false })
  await sent
  const [delivery] = deliveriesOf(bus, 'users.explode')
  const receipt = delivery?.receipt
  assert.equal(receipt?.status, 'failed')
  assert.ok(receipt.error instanceof HandlerError)
  assert.equal(receipt.error.code, ErrorCodes.HANDLER_FAILED)
  assert.equal(receipt.error.cause, boom)
  const [logged] = usersLog.about('error', 'users.explode')
  assert.equal(logged?.message, 'handler failed')
  assert.equal(logged?.bindings.err, boom)
  assert.equal(logged?.bindings.messageId, sent.id)
})

test('an async handler that rejects is logged at error with the message name and id, never unhandled', async (t) => {
  const unhandled = unhandledRejections(t)
  const failure = new Error('database down')
  users.registerHandler('users.save', async () => {
    await nextTurn()
    throw failure
  })
  const sent = web.send('users.save', { name: 'Will' }, { reply: false })
  await sent
  const logged = await usersLog.waitFor(
    (e) => e.level === 'error' && e.bindings.messageName === 'users.save',
  )
  assert.equal(logged.message, 'handler failed')
  assert.equal(logged.bindings.messageId, sent.id)
  assert.equal(logged.bindings.err, failure)
  assert.equal(deliveriesOf(bus, 'users.save')[0]?.receipt.status, 'accepted')
  await nextTurn()
  assert.deepEqual(unhandled, [])
})

test('a reply nobody waits for any more is answered unknown', async () => {
  const secondReceipt = deferred<Receipt | undefined>()
  users.registerHandler('users.twice', async (_payload, { reply }) => {
    await reply('users.first', 1)
    await reply('users.second', 2)
    secondReceipt.resolve(deliveriesOf(bus, 'users.second')[0]?.receipt)
  })
  assert.equal(await web.send('users.twice', 0), 1)
  const receipt = await secondReceipt.promise
  assert.ok(receipt?.status === 'unknown', `receipt ${receipt?.status}`)
  assert.equal(receipt.error.code, ErrorCodes.UNKNOWN_MESSAGE)
  assert.equal(receipt.error.message, "unknown message: 'users.second'")
})

test('a message without waiter or handler gets the receipt unknown', async () => {
  let endpoint: Endpoint | undefined
  const transport: Transport = {
    listen: async (given) => {
      endpoint = given
      return { port: 0 }
    },
    send: async () => {},
    close: async () => {},
  }
  const relay = new Relay({ serviceName: 'lonely', transport })
  await relay.listen()
  assert.ok(endpoint)
  const receipt = endpoint.receive({ name: 'zonk', id: '1' })
  assert.equal(receipt.status, 'unknown')
  assert.ok(receipt.status === 'unknown')
  assert.equal(receipt.error.code, ErrorCodes.UNKNOWN_MESSAGE)
  assert.equal(receipt.error.message, "unknown message: 'zonk'")
  const reply = endpoint.receive({ name: 'zonk.done', id: '2', responseTo: 'never-sent' })
  assert.equal(reply.status, 'unknown')
  await relay.close()
  assert.equal(endpoint.receive({ name: 'zonk', id: '3' }).status, 'unavailable')
})

test('a send without reply rejects with a TimeoutError whose stack points at the awaiting line', async () => {
  users.registerHandler('users.ignore', () => {})
  let error: unknown
  try {
    await web.send('users.ignore', 1, { timeout: 20 })
  } catch (caught) {
    error = caught
  }
  assert.ok(error instanceof TimeoutError)
  assert.equal(error.code, ErrorCodes.TIMEOUT)
  assert.equal(error.timeout, 20)
  assert.match(error.message, /'users\.ignore'/)
  // The first frame is the awaiting line (stackTraces: 'await', the default), not the relay's
  // timer or its internals.
  assert.match(error.stack?.split('\n')[1] ?? '', /at async .*relay\.test\.ts/)
  assert.equal(web.pendingReplies, 0)
})

test('a failed send observed only through envelope() or later never rejects unhandled', async (t) => {
  const unhandled: unknown[] = []
  const record = (reason: unknown) => unhandled.push(reason)
  process.on('unhandledRejection', record)
  t.after(() => process.off('unhandledRejection', record))
  users.registerHandler('users.silent', () => {})
  // Only the envelope: the send itself has no handler of the caller's.
  await assert.rejects(web.send('users.silent', 1, { timeout: 20 }).envelope(), TimeoutError)
  // Awaited only after it failed.
  const late = web.send('users.silent', 2, { timeout: 20 })
  // Logged as nobody observed it (at debug: a timeout), then awaited.
  await webLog.waitFor((entry) => entry.bindings.messageId === late.id)
  await assert.rejects(late, TimeoutError)
  await nextTurn()
  assert.deepEqual(unhandled, [])
})

test('with stackTraces: false a timeout is the same TimeoutError, its stack starting in the timer', async () => {
  const bus = new MemoryBus()
  const relay = new Relay({ serviceName: 'fast', transport: bus.transport(), stackTraces: false })
  const quiet = new Relay({ serviceName: 'quiet', transport: bus.transport() })
  quiet.registerHandler('quiet.ignore', () => {})
  await Promise.all([relay.listen(), quiet.listen()])
  const sent = relay.send('quiet.ignore', 1, { timeout: 20 })
  await assert.rejects(sent, (error: unknown) => {
    assert.ok(error instanceof TimeoutError)
    assert.equal(error.code, ErrorCodes.TIMEOUT)
    assert.equal(error.timeout, 20)
    assert.match(error.message, /'quiet\.ignore' \(id [^)]+\) within 20 ms/)
    assert.doesNotMatch(error.stack ?? '', /relay\.test\.ts/)
    return true
  })
  assert.equal(relay.pendingReplies, 0)
  await Promise.all([relay.close(), quiet.close()])
  assert.throws(
    () => new Relay({ serviceName: 'x', transport: bus.transport(), stackTraces: 'no' as never }),
    {
      code: ErrorCodes.INVALID_OPTION,
      message: "The stackTraces option must be true, false or 'await', got 'no'.",
    },
  )
})

test("a handler's own send points at the handler's line; with stackTraces: false nothing is captured", async (t) => {
  const bus = new MemoryBus()
  // true: captured at the send, so that a .catch() shows the line too.
  const traced = new Relay({ serviceName: 'traced', transport: bus.transport(), stackTraces: true })
  const awaited = new Relay({ serviceName: 'awaited', transport: bus.transport() })
  const fast = new Relay({ serviceName: 'fast', transport: bus.transport(), stackTraces: false })
  t.after(() => Promise.all([traced.close(), awaited.close(), fast.close()]))
  let failed: unknown
  traced.registerHandler('traced.run', async (_payload, { send, reply }) => {
    failed = await send('nobody.handles.this', 1).catch((error: unknown) => error)
    await reply('traced.done')
  })
  let awaitedFailure: unknown
  awaited.registerHandler('awaited.run', async (_payload, { send, reply }) => {
    try {
      await send('nobody.handles.this', 1)
    } catch (error) {
      awaitedFailure = error
    }
    await reply('awaited.done')
  })
  await Promise.all([traced.listen(), awaited.listen(), fast.listen()])

  await fast.send('traced.run', 1)
  const error = failed as Error
  assert.equal((error as TransportError).code, ErrorCodes.NO_RECEIVER)
  assert.match(error.stack?.split('\n')[1] ?? '', /relay\.test\.ts/)

  // 'await' (the default): the handler's awaiting line, from V8's async stack traces.
  await fast.send('awaited.run', 1)
  assert.equal((awaitedFailure as TransportError).code, ErrorCodes.NO_RECEIVER)
  assert.match((awaitedFailure as Error).stack?.split('\n')[1] ?? '', /at async .*relay\.test\.ts/)

  await assert.rejects(fast.send('nobody.handles.this', 1), (untraced: Error) => {
    assert.equal((untraced as TransportError).code, ErrorCodes.NO_RECEIVER)
    assert.doesNotMatch(untraced.stack ?? '', /relay\.test\.ts/)
    return true
  })
})

test('a fire-and-forget send whose reply never comes is logged at debug, not warn', async () => {
  users.registerHandler('users.touch', () => {})
  web.send('users.touch', 1, { timeout: 20 })
  const logged = await webLog.waitFor(
    (e) => e.message === 'send failed' && e.bindings.messageName === 'users.touch',
  )
  assert.equal(logged.level, 'debug')
  assert.ok(logged.bindings.err instanceof TimeoutError)
})

test('a signal aborted before the send rejects with an AbortError and sends nothing', async () => {
  users.registerHandler('users.early', () => {})
  const reason = new Error('changed my mind')
  const sent = web.send('users.early', 1, { signal: AbortSignal.abort(reason) })
  assert.equal(web.pendingReplies, 0)
  await assert.rejects(
    sent,
    (error: unknown) =>
      error instanceof AbortError && error.code === ErrorCodes.ABORTED && error.cause === reason,
  )
  await nextTurn()
  assert.equal(deliveriesOf(bus, 'users.early').length, 0)
  assert.deepEqual(webLog.about('warn', 'users.early'), [], 'an awaited failure is not logged')
})

test('an abort while waiting rejects with an AbortError and frees the wait', async () => {
  const received = deferred()
  users.registerHandler('users.slow', () => received.resolve())
  const controller = new AbortController()
  const sent = web.send('users.slow', 1, { signal: controller.signal })
  await received.promise
  assert.equal(web.pendingReplies, 1)
  controller.abort()
  await assert.rejects(sent, { name: 'AbortError', code: ErrorCodes.ABORTED })
  assert.equal(web.pendingReplies, 0)
})

test('an abort of a callback-style send rejects it too', async () => {
  const received = deferred()
  users.registerHandler('users.stream', () => received.resolve())
  const controller = new AbortController()
  const sent = web.send('users.stream', 1, () => assert.fail('no reply was sent'), {
    signal: controller.signal,
  })
  await received.promise
  controller.abort()
  await assert.rejects(sent, { code: ErrorCodes.ABORTED })
  assert.equal(web.pendingReplies, 0)
})

test('a reply callback that throws is logged and does not stop later outcomes', async () => {
  users.registerHandler('users.batch', async (_payload, { reply }) => {
    await reply('users.batch.item', 1)
    await reply('users.batch.item', 2)
  })
  const seen: unknown[] = []
  const done = deferred()
  web.send('users.batch', 0, (payload, { end }) => {
    seen.push(payload)
    if (payload === 2) {
      end()
      done.resolve()
    }
    throw new Error(`callback failed on ${String(payload)}`)
  })
  await done.promise
  assert.deepEqual(seen, [1, 2])
  const logged = webLog.about('error', 'users.batch.item')
  assert.deepEqual(
    logged.map((e) => e.message),
    ['reply callback failed', 'reply callback failed'],
  )
})

test('a send nobody receives rejects with a TransportError coded NO_RECEIVER', async () => {
  const sent = web.send('nobody.listens', 1)
  await assert.rejects(
    sent,
    (error: unknown) => error instanceof TransportError && error.code === ErrorCodes.NO_RECEIVER,
  )
  assert.equal(web.pendingReplies, 0)
  await assert.rejects(web.send('nobody.listens', 1, { reply: false }), {
    code: ErrorCodes.NO_RECEIVER,
  })
})

test('an ignored fire-and-forget send nobody receives is logged at warn, never unhandled', async (t) => {
  const unhandled = unhandledRejections(t)
  web.send('nobody.hears', { lost: true })
  const logged = await webLog.waitFor(
    (e) => e.message === 'send failed' && e.bindings.messageName === 'nobody.hears',
  )
  assert.equal(logged.level, 'warn')
  assert.ok(logged.bindings.err instanceof TransportError)
  assert.equal((logged.bindings.err as TransportError).code, ErrorCodes.NO_RECEIVER)
  await nextTurn()
  await nextTurn()
  assert.deepEqual(unhandled, [])
  assert.equal(web.pendingReplies, 0)
})

test('programmer errors in send throw at once with their codes and register nothing', () => {
  assert.throws(() => web.send(''), { name: 'InvalidArgumentError', code: ErrorCodes.INVALID_NAME })
  // @ts-expect-error: names are strings
  assert.throws(() => web.send(42), { code: ErrorCodes.INVALID_NAME })
  assert.throws(() => web.send('x'.repeat(513)), { code: ErrorCodes.INVALID_NAME })
  assert.throws(() => web.send('x', () => {}), { code: ErrorCodes.INVALID_PAYLOAD })
  assert.throws(() => web.send('x', Symbol('s')), { code: ErrorCodes.INVALID_PAYLOAD })
  assert.throws(() => web.send('x', 1n), { code: ErrorCodes.INVALID_PAYLOAD })
  // @ts-expect-error: the reply handler must be a function
  assert.throws(() => web.send('x', 1, 'notAFunction', {}), { code: ErrorCodes.INVALID_HANDLER })
  // @ts-expect-error: options must be an object
  assert.throws(() => web.send('x', 1, 'notAFunction'), { code: ErrorCodes.INVALID_HANDLER })
  assert.throws(() => web.send('x', 1, { timeout: -1 }), { code: ErrorCodes.INVALID_OPTION })
  assert.throws(() => web.send('x', 1, { timeout: 0 }), { code: ErrorCodes.INVALID_OPTION })
  assert.throws(() => web.send('x', 1, { timeout: Number.NaN }), {
    code: ErrorCodes.INVALID_OPTION,
  })
  // @ts-expect-error: signal must be an AbortSignal
  assert.throws(() => web.send('x', 1, { signal: {} }), { code: ErrorCodes.INVALID_OPTION })
  // @ts-expect-error: reply must be a boolean
  assert.throws(() => web.send('x', 1, { reply: 'no' }), { code: ErrorCodes.INVALID_OPTION })
  assert.equal(web.pendingReplies, 0)
  assert.equal(deliveriesOf(bus, 'x').length, 0)
})

test('registerHandler rejects duplicates and bad arguments at once with their codes', () => {
  users.registerHandler('users.unique', () => {})
  assert.throws(() => users.registerHandler('users.unique', () => {}), {
    code: ErrorCodes.DUPLICATE_HANDLER,
  })
  assert.throws(() => users.registerHandler('', () => {}), { code: ErrorCodes.INVALID_NAME })
  // @ts-expect-error: a handler is a function
  assert.throws(() => users.registerHandler('users.other', 'handler'), {
    code: ErrorCodes.INVALID_HANDLER,
  })
  assert.equal(users.hasHandler('users.unique'), true)
  assert.equal(users.hasHandler('users.other'), false)
})

test('registerHandlers registers several handlers and stops at the first invalid one', () => {
  const relay = new Relay({ serviceName: 'batch', transport: new MemoryBus().transport() })
  relay.registerHandlers({ 'a.one': () => {}, 'a.two': () => {} })
  assert.equal(relay.hasHandler('a.one'), true)
  assert.equal(relay.hasHandler('a.two'), true)
  assert.throws(() => relay.registerHandlers({ 'b.one': () => {}, 'a.one': () => {} }), {
    code: ErrorCodes.DUPLICATE_HANDLER,
  })
  assert.equal(relay.hasHandler('b.one'), true)
  // @ts-expect-error: an object of handlers is required
  assert.throws(() => relay.registerHandlers(null), { code: ErrorCodes.INVALID_HANDLER })
})

test('the constructor checks its options', () => {
  const transport = new MemoryBus().transport()
  assert.throws(() => new Relay({ serviceName: '', transport }), {
    code: ErrorCodes.MISSING_OPTION,
  })
  // @ts-expect-error: serviceName is required
  assert.throws(() => new Relay({ transport }), { code: ErrorCodes.MISSING_OPTION })
  assert.throws(() => new Relay({ serviceName: 'web', transport, timeout: -1 }), {
    code: ErrorCodes.INVALID_OPTION,
  })
  assert.equal(DEFAULT_TIMEOUT, 10_000)
})

test('the relay timeout is the default deadline of its sends', async (t) => {
  const timers = {
    delays: [] as number[],
    setTimeout(callback: () => void, milliseconds: number) {
      timers.delays.push(milliseconds)
      return setTimeout(callback, 60_000).unref()
    },
    clearTimeout(handle: NodeJS.Timeout) {
      clearTimeout(handle)
    },
  }
  const pairBus = new MemoryBus()
  const relay = new Relay({
    serviceName: 'web',
    transport: pairBus.transport(),
    timeout: 1234,
    timers,
  })
  const echo = new Relay({ serviceName: 'echo', transport: pairBus.transport() })
  t.after(() => Promise.all([relay.close(), echo.close()]))
  echo.registerHandler('echo', (payload, { reply }) => reply('echoed', payload))
  await Promise.all([relay.listen(), echo.listen()])
  assert.equal(await relay.send('echo', 'a'), 'a')
  assert.equal(await relay.send('echo', 'b', { timeout: 99 }), 'b')
  assert.deepEqual(timers.delays, [1234, 99])
})

test('listen() emits online with port 0 and returns the same promise when called twice', async () => {
  const relay = new Relay({ serviceName: 'solo', transport: new MemoryBus().transport() })
  assert.equal(relay.online, false)
  const online = once(relay, 'online')
  const first = relay.listen()
  const second = relay.listen()
  assert.equal(first, second)
  assert.equal(await first, 0)
  assert.deepEqual(await online, [0])
  assert.equal(relay.online, true)
  assert.equal(relay.listen(), first)
  await relay.close()
})

test('listen() rejects a port that is not a port with INVALID_OPTION', async () => {
  const relay = new Relay({ serviceName: 'solo', transport: new MemoryBus().transport() })
  await assert.rejects(relay.listen('zonk'), { code: ErrorCodes.INVALID_OPTION })
  assert.equal(checkPort('4001'), 4001)
  assert.equal(checkPort(0), 0)
  for (const port of [-1, 65536, 1.5, '', 'zonk', null]) {
    assert.throws(() => checkPort(port), { code: ErrorCodes.INVALID_OPTION }, String(port))
  }
})

test('a failing transport makes listen() reject with a ListenError, emitted as error when listened for', async () => {
  const cause = new Error('EACCES')
  const transport: Transport = {
    listen: async () => {
      throw cause
    },
    send: async () => {},
    close: async () => {},
  }
  const relay = new Relay({ serviceName: 'solo', transport })
  const emitted = once(relay, 'error')
  await assert.rejects(
    relay.listen(),
    (error: unknown) =>
      error instanceof ListenError &&
      error.code === ErrorCodes.LISTEN_FAILED &&
      error.cause === cause,
  )
  const [error] = await emitted
  assert.equal(error.cause, cause)
  assert.equal(relay.online, false)
})

test('close() rejects pending sends with CLOSED, emits offline once and is idempotent', async (t) => {
  const pair = await freshPair(t)
  const received = deferred()
  pair.users.registerHandler('users.wait', () => received.resolve())
  const sent = pair.web.send('users.wait', 1)
  await received.promise
  assert.equal(pair.web.pendingReplies, 1)
  let offline = 0
  pair.web.on('offline', () => {
    offline++
  })
  const closing = pair.web.close()
  assert.equal(pair.web.close(), closing)
  await assert.rejects(
    sent,
    (error: unknown) => error instanceof ClosedError && error.code === ErrorCodes.CLOSED,
  )
  assert.equal(pair.web.pendingReplies, 0)
  await closing
  await pair.web.close()
  assert.equal(offline, 1)
  assert.equal(pair.web.online, false)
})

test('a send after close rejects with CLOSED and so does listen', async (t) => {
  const pair = await freshPair(t)
  pair.users.registerHandler('users.late', () => {})
  await pair.web.close()
  await assert.rejects(pair.web.send('users.late', 1), { code: ErrorCodes.CLOSED })
  await assert.rejects(pair.web.send('users.late', 1, { reply: false }), {
    code: ErrorCodes.CLOSED,
  })
  await assert.rejects(pair.web.listen(), { code: ErrorCodes.CLOSED })
  assert.equal(deliveriesOf(pair.bus, 'users.late').length, 0)
})

test('a closed relay receives nothing more: the bus finds no receiver', async (t) => {
  const pair = await freshPair(t)
  pair.users.registerHandler('users.gone', () => assert.fail('a closed relay received'))
  await pair.users.close()
  await assert.rejects(pair.web.send('users.gone', 1), { code: ErrorCodes.NO_RECEIVER })
})

test('close() before listen() emits no offline and logs neither closing nor offline', async () => {
  const log = new RecordingLogger()
  const transport = new MemoryBus().transport()
  const relay = new Relay({ serviceName: 'solo', transport, logger: log })
  let offline = 0
  relay.on('offline', () => {
    offline++
  })
  await relay.close()
  assert.equal(offline, 0)
  assert.deepEqual(
    log.entries.map((entry) => entry.message),
    [],
    'a relay that was never online logs no outage',
  )
})

test('after all of the above the shared relays hold no pending replies', () => {
  assert.equal(web.pendingReplies, 0)
  assert.equal(users.pendingReplies, 0)
})

test("the transport's reply route comes back with every reply to that message, error replies included", async () => {
  let endpoint: Endpoint | undefined
  const sent: { name: string; responseTo: string | undefined; options: TransportSendOptions }[] = []
  const transport: Transport = {
    listen: async (given) => {
      endpoint = given
      return { port: 0 }
    },
    send: async (envelope, options) => {
      sent.push({ name: envelope.name, responseTo: envelope.responseTo, options })
    },
    close: async () => {},
  }
  const relay = new Relay({ serviceName: 'users', transport })
  relay.registerHandler('users.create', (_user, { reply }) => {
    reply('users.creating')
    reply('users.created')
  })
  relay.registerHandler('users.fail', () => {
    throw new Error('boom')
  })
  await relay.listen()
  assert.ok(endpoint)
  const route = { inbox: '_INBOX.web.r' }
  assert.equal(endpoint.receive({ name: 'users.create', id: 'r1' }, route).status, 'accepted')
  assert.equal(endpoint.receive({ name: 'users.fail', id: 'r2' }, 'route-2').status, 'failed')
  endpoint.receive({ name: 'users.create', id: 'r3' })
  assert.deepEqual(
    sent.map(({ name, responseTo, options }) => [name, responseTo, options.replyRoute]),
    [
      ['users.creating', 'r1', route],
      ['users.created', 'r1', route],
      ['__error', 'r2', 'route-2'],
      ['users.creating', 'r3', undefined],
      ['users.created', 'r3', undefined],
    ],
  )
  assert.ok(sent.every(({ options }) => options.awaitsReply !== true))
  await relay.close()
})

test('a send that waits for its reply tells the transport so; one that does not, does not', async () => {
  const sent: { name: string; awaitsReply: boolean | undefined }[] = []
  const transport: Transport = {
    listen: async () => ({ port: 0 }),
    send: async (envelope, options) => {
      sent.push({ name: envelope.name, awaitsReply: options.awaitsReply })
    },
    close: async () => {},
  }
  const relay = new Relay({ serviceName: 'web', transport })
  await relay.listen()
  const awaited = relay.send('users.create', 1, { timeout: 50 })
  relay.send('users.create', 2, () => {}, { timeout: 50 })
  await relay.send('hello', 3, { reply: false })
  assert.deepEqual(sent, [
    { name: 'users.create', awaitsReply: true },
    { name: 'users.create', awaitsReply: true },
    { name: 'hello', awaitsReply: undefined },
  ])
  await assert.rejects(awaited, { code: ErrorCodes.TIMEOUT })
  await relay.close()
})

test('while the transport withdraws on close, arriving messages are still handled; afterwards they are refused', async () => {
  let endpoint: Endpoint | undefined
  const withdrawn = deferred()
  const drainCalled = deferred()
  const transport: Transport = {
    listen: async (given) => {
      endpoint = given
      return { port: 0 }
    },
    send: async () => {},
    drain: () => {
      drainCalled.resolve()
      return withdrawn.promise
    },
    close: async () => {},
  }
  const log = new RecordingLogger()
  const release = deferred()
  const handled: string[] = []
  const relay = new Relay({ serviceName: 'users', transport, logger: log })
  relay.registerHandler('users.create', async (_payload, { id }) => {
    handled.push(id)
    await release.promise
  })
  await relay.listen()
  assert.ok(endpoint)
  const closing = relay.close()
  await drainCalled.promise
  assert.equal(relay.status().state, 'closing')
  assert.equal(endpoint.receive({ name: 'users.create', id: 'in-flight' }).status, 'accepted')
  withdrawn.resolve()
  const logged = await log.waitFor((entry) => entry.message?.startsWith('closing:') === true)
  assert.equal(logged.bindings.runningHandlers, 1)
  const late = endpoint.receive({ name: 'users.create', id: 'late' })
  assert.equal(late.status, 'unavailable')
  assert.ok(late.status === 'unavailable')
  assert.equal(late.error.code, ErrorCodes.CLOSED)
  release.resolve()
  await closing
  assert.deepEqual(handled, ['in-flight'])
})
