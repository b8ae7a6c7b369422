import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Timers } from '@exorelay/core'
import { errors } from 'undici'
import {
  DEFAULT_RETRY_BUDGET,
  FIRST_RETRY_DELAY,
  isNeverWritten,
  pause,
  retryDelay,
} from '../src/retry.js'

function coded(code: string): Error {
  return Object.assign(new Error(code), { code })
}

/** Timers the test fires by hand. */
function manualTimers(): Timers & { fire(): void; pending: () => number } {
  const callbacks = new Map<number, () => void>()
  let next = 0
  return {
    pending: () => callbacks.size,
    setTimeout(callback) {
      next += 1
      callbacks.set(next, callback)
      return next
    },
    clearTimeout(handle: number) {
      callbacks.delete(handle)
    },
    fire() {
      for (const [handle, callback] of callbacks) {
        callbacks.delete(handle)
        callback()
      }
    },
  }
}

test('the backoff starts at 25 ms and doubles, jittered by at most 20% either way', () => {
  assert.equal(FIRST_RETRY_DELAY, 25)
  assert.equal(DEFAULT_RETRY_BUDGET, 1000)
  assert.deepEqual(
    [1, 2, 3, 4].map((attempt) => retryDelay(attempt, () => 0.5)),
    [25, 50, 100, 200],
  )
  assert.deepEqual(
    [1, 2, 3].map((attempt) => [retryDelay(attempt, () => 0), retryDelay(attempt, () => 1)]),
    [
      [20, 30],
      [40, 60],
      [80, 120],
    ],
  )
})

test('the backoff never waits more than a second and a fifth, however many attempts', () => {
  assert.equal(
    retryDelay(10, () => 0.5),
    1000,
  )
  assert.equal(
    retryDelay(60, () => 1),
    1200,
  )
})

test('only refused connections and connect timeouts count as never written', () => {
  assert.equal(isNeverWritten(coded('ECONNREFUSED')), true)
  assert.equal(isNeverWritten(new errors.ConnectTimeoutError()), true)
  assert.equal(
    isNeverWritten(new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')])),
    true,
  )
  for (const error of [
    coded('ECONNRESET'),
    coded('EPIPE'),
    coded('ENOTFOUND'),
    coded('EAI_AGAIN'),
    coded('UND_ERR_SOCKET'),
    coded('UND_ERR_HEADERS_TIMEOUT'),
    new errors.SocketError('other side closed'),
    new AggregateError([coded('ECONNREFUSED'), coded('ECONNRESET')]),
    new AggregateError([]),
    new Error('no code'),
    'a string',
    null,
    undefined,
  ]) {
    assert.equal(isNeverWritten(error), false, String(error))
  }
})

test('pause resolves true once its timer fires, and forgets the signals', async () => {
  const timers = manualTimers()
  const controller = new AbortController()
  const paused = pause(25, [controller.signal, undefined], timers)
  assert.equal(timers.pending(), 1)
  timers.fire()
  assert.equal(await paused, true)
  // Aborting afterwards must not reach a settled pause.
  controller.abort()
  assert.equal(timers.pending(), 0)
})

test('pause resolves false as soon as any signal aborts, and clears its timer', async () => {
  const timers = manualTimers()
  const first = new AbortController()
  const second = new AbortController()
  const paused = pause(25, [first.signal, second.signal], timers)
  second.abort()
  assert.equal(await paused, false)
  assert.equal(timers.pending(), 0)
})

test('pause resolves false at once, without a timer, when a signal has already aborted', async () => {
  const timers = manualTimers()
  assert.equal(await pause(25, [AbortSignal.abort()], timers), false)
  assert.equal(timers.pending(), 0)
})
