import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { test } from 'node:test'
import { ErrorCodes, silentLogger, TimeoutError, type Timers } from '@exorelay/core'
import { QUOTED_TEXT_LENGTH } from '@exorelay/core/internal'
import { ERROR_CODE_HEADER } from '@exorelay/http-protocol'
import type { Dispatcher } from 'undici'
import {
  type Abandonable,
  type Answer,
  type ExchangeContext,
  SendExchange,
  type SendRequest,
} from '../src/exchange.js'
import { manualTimers } from './manual-timers.js'

/** The controller undici hands a handler, recording aborts. */
class FakeController implements Dispatcher.DispatchController {
  aborted = false
  paused = false
  reason: Error | null = null
  abort(reason: Error): void {
    this.aborted = true
    this.reason = reason
  }
  pause(): void {
    this.paused = true
  }
  resume(): void {
    this.paused = false
  }
}

/** A dispatcher that only records what it was given; the test plays undici's part. */
function holdingDispatcher(): Dispatcher & {
  dispatched: { options: Dispatcher.DispatchOptions; handler: Dispatcher.DispatchHandler }[]
} {
  const dispatched: { options: Dispatcher.DispatchOptions; handler: Dispatcher.DispatchHandler }[] =
    []
  return {
    dispatched,
    dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) {
      dispatched.push({ options, handler })
      return true
    },
  } as unknown as Dispatcher & { dispatched: typeof dispatched }
}

function context(
  dispatcher: Dispatcher,
  timers: Timers,
): ExchangeContext & { settledCount: () => number; reachable: () => boolean | undefined } {
  let settled = 0
  let reachable: boolean | undefined
  return {
    origin: 'http://127.0.0.1:3100',
    dispatcher,
    timers,
    retryBudget: 1000,
    log: silentLogger,
    closing: () => false,
    reached: (value) => {
      reachable = value
    },
    retrying: (_exchange: Abandonable, _waiting: boolean) => {},
    settled: () => {
      settled += 1
    },
    settledCount: () => settled,
    reachable: () => reachable,
  }
}

const REQUEST: SendRequest = {
  method: 'POST',
  path: '/send/users.create',
  body: '{"id":"1"}',
  headers: { 'content-type': 'application/json' },
  subject: () => "the message 'users.create'",
}

const asAnswer = (answer: Answer): Answer => answer

function start(timeout: number, signal?: AbortSignal) {
  const timers = manualTimers()
  const dispatcher = holdingDispatcher()
  const shared = context(dispatcher, timers)
  const exchange = new SendExchange(shared, REQUEST, timeout, signal, asAnswer)
  const { handler, options } = dispatcher.dispatched[0]!
  return { timers, shared, exchange, handler, options, dispatcher }
}

test('a 2xx answer settles with what interpret makes of it, and leaves no timer or listener', async () => {
  const controller = new AbortController()
  const { timers, shared, exchange, handler } = start(2000, controller.signal)
  assert.equal(timers.pending(), 1)
  assert.equal(getEventListeners(controller.signal, 'abort').length, 1)
  const socket = new FakeController()
  handler.onRequestStart?.(socket, {})
  handler.onResponseStart?.(socket, 202, { 'content-length': '2' }, 'Accepted')
  handler.onResponseData?.(socket, Buffer.from('ok'))
  handler.onResponseEnd?.(socket, {})
  assert.deepEqual(await exchange.promise, {
    status: 202,
    errorCode: undefined,
    bodyStart: '',
    body: '',
  })
  assert.equal(timers.pending(), 0)
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0)
  assert.equal(shared.settledCount(), 1)
  assert.equal(shared.reachable(), true)
  assert.equal(socket.aborted, false)
})

test('the request carries the method, path, body and undici timeouts no longer than the deadline', () => {
  const { options } = start(199.5)
  assert.equal(options.method, 'POST')
  assert.equal(options.path, '/send/users.create')
  assert.equal(options.origin, 'http://127.0.0.1:3100')
  assert.equal(options.body, '{"id":"1"}')
  assert.equal(options.headersTimeout, 200)
  assert.equal(options.bodyTimeout, 200)
  assert.equal((options as { signal?: unknown }).signal, undefined)
})

test('an informational answer is skipped and the final one counts', async () => {
  const { exchange, handler } = start(2000)
  const socket = new FakeController()
  handler.onRequestStart?.(socket, {})
  handler.onResponseStart?.(socket, 100, {}, 'Continue')
  handler.onResponseStart?.(socket, 200, {}, 'OK')
  handler.onResponseEnd?.(socket, {})
  assert.equal((await exchange.promise).status, 200)
})

test('a non-2xx answer brings its error code header and the start of its body', async () => {
  const { exchange, handler } = start(2000)
  const socket = new FakeController()
  handler.onRequestStart?.(socket, {})
  handler.onResponseStart?.(socket, 404, { [ERROR_CODE_HEADER]: ErrorCodes.NO_RECEIVER }, '')
  handler.onResponseData?.(socket, Buffer.from(' nobody '))
  handler.onResponseData?.(socket, Buffer.from('receives it\n'))
  handler.onResponseEnd?.(socket, {})
  assert.deepEqual(await exchange.promise, {
    status: 404,
    errorCode: ErrorCodes.NO_RECEIVER,
    bodyStart: 'nobody receives it',
    body: '',
  })
})

test('an error answer longer than the read limit settles at the limit and drops the request', async () => {
  const { exchange, handler } = start(2000)
  const socket = new FakeController()
  handler.onRequestStart?.(socket, {})
  handler.onResponseStart?.(socket, 500, {}, '')
  for (let i = 0; i < 4 && !socket.aborted; i++) {
    handler.onResponseData?.(socket, Buffer.alloc(1024, 'a'))
  }
  assert.equal(socket.aborted, true)
  handler.onResponseError?.(socket, socket.reason!)
  const answer = await exchange.promise
  assert.equal(answer.status, 500)
  assert.equal(answer.bodyStart, `${'a'.repeat(QUOTED_TEXT_LENGTH)}…`)
})

test('the deadline rejects with a TimeoutError built when it passes, and drops the request', async () => {
  const { timers, shared, exchange, handler } = start(200)
  assert.deepEqual(timers.delays, [200])
  const socket = new FakeController()
  handler.onRequestStart?.(socket, {})
  timers.fire()
  const error = await exchange.promise.catch((e: unknown) => e)
  assert.ok(error instanceof TimeoutError)
  assert.equal(error.timeout, 200)
  assert.equal(error.message, "ExoCom did not answer the message 'users.create' within 200 ms.")
  assert.equal(socket.reason, error)
  // undici reports the abort; the settled exchange ignores it.
  handler.onResponseError?.(socket, error)
  assert.equal(shared.settledCount(), 1)
})

test('a deadline that passes while the request waits for a connection settles it at once, and it is never written', async () => {
  const { timers, exchange, handler } = start(200)
  timers.fire()
  const error = await exchange.promise.catch((e: unknown) => e)
  assert.ok(error instanceof TimeoutError)
  // The pool hands it a socket later: it is aborted there, before a byte is written.
  const socket = new FakeController()
  handler.onRequestStart?.(socket, {})
  assert.equal(socket.aborted, true)
  assert.equal(socket.reason, error)
})

test("the caller's abort rejects with exactly its reason, clears the deadline and drops the request", async () => {
  const controller = new AbortController()
  const { timers, exchange, handler } = start(2000, controller.signal)
  const socket = new FakeController()
  handler.onRequestStart?.(socket, {})
  const reason = new Error('the caller gave up')
  controller.abort(reason)
  await assert.rejects(exchange.promise, (error) => error === reason)
  assert.equal(socket.reason, reason)
  assert.equal(timers.pending(), 0)
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0)
})

test('an infinite deadline, or one beyond what a timer holds, starts no timer', () => {
  for (const timeout of [Number.POSITIVE_INFINITY, 2 ** 31]) {
    const { timers, options } = start(timeout)
    assert.equal(timers.pending(), 0, String(timeout))
    if (timeout === Number.POSITIVE_INFINITY) assert.equal(options.headersTimeout, undefined)
    else assert.equal(options.headersTimeout, 300_000)
  }
})

test('a failure of interpret rejects the exchange with that failure', async () => {
  const timers = manualTimers()
  const dispatcher = holdingDispatcher()
  const refused = new Error('refused by interpret')
  const exchange = new SendExchange(context(dispatcher, timers), REQUEST, 2000, undefined, () => {
    throw refused
  })
  const { handler } = dispatcher.dispatched[0]!
  const socket = new FakeController()
  handler.onRequestStart?.(socket, {})
  handler.onResponseStart?.(socket, 200, {}, 'OK')
  handler.onResponseEnd?.(socket, {})
  await assert.rejects(exchange.promise, (error) => error === refused)
  assert.equal(timers.pending(), 0)
})
