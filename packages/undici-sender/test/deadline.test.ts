import assert from 'node:assert/strict'
import { once } from 'node:events'
import { test } from 'node:test'
import type { Timers } from '@exorelay/core'
import { Deadline } from '../src/deadline.js'

/** Timers the test fires by hand: no waiting, no global fakes. */
function manualTimers(): Timers & { fire(): void; pending: number; delays: number[] } {
  const callbacks = new Map<number, () => void>()
  let next = 0
  return {
    delays: [],
    get pending() {
      return callbacks.size
    },
    setTimeout(callback, milliseconds) {
      this.delays.push(milliseconds)
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

test('the signal aborts with the expired reason once the timeout passes', () => {
  const timers = manualTimers()
  const expired = new Error('expired')
  const deadline = new Deadline(200, undefined, expired, timers)
  assert.deepEqual(timers.delays, [200])
  assert.equal(deadline.signal?.aborted, false)
  timers.fire()
  assert.equal(deadline.signal?.aborted, true)
  assert.equal(deadline.signal?.reason, expired)
  assert.equal(deadline.expired, true)
  assert.equal(deadline.abortedByCaller, false)
})

test("the signal aborts with the caller's own reason when the caller aborts first", () => {
  const timers = manualTimers()
  const caller = new AbortController()
  const reason = new Error('user gave up')
  const deadline = new Deadline(200, caller.signal, new Error('expired'), timers)
  caller.abort(reason)
  assert.equal(deadline.signal?.reason, reason)
  assert.equal(deadline.abortedByCaller, true)
  assert.equal(deadline.expired, false)
  // A timer firing afterwards changes nothing: the first abort wins.
  timers.fire()
  assert.equal(deadline.signal?.reason, reason)
  assert.equal(deadline.expired, false)
})

test('a caller that aborts after the deadline expired does not turn the timeout into an abort', () => {
  const timers = manualTimers()
  const caller = new AbortController()
  const expired = new Error('expired')
  const deadline = new Deadline(200, caller.signal, expired, timers)
  timers.fire()
  caller.abort(new Error('too late'))
  assert.equal(deadline.expired, true)
  assert.equal(deadline.abortedByCaller, false)
})

test('an already aborted caller signal aborts the deadline at once and starts no timer', () => {
  const timers = manualTimers()
  const reason = new Error('already')
  const deadline = new Deadline(200, AbortSignal.abort(reason), new Error('expired'), timers)
  assert.equal(deadline.signal?.aborted, true)
  assert.equal(deadline.signal?.reason, reason)
  assert.equal(deadline.abortedByCaller, true)
  assert.equal(timers.pending, 0)
})

test('a timeout beyond the timer range uses the caller signal as it is, or none', () => {
  const timers = manualTimers()
  const caller = new AbortController()
  const withCaller = new Deadline(Number.POSITIVE_INFINITY, caller.signal, undefined, timers)
  assert.equal(withCaller.signal, caller.signal)
  const alone = new Deadline(2 ** 31, undefined, undefined, timers)
  assert.equal(alone.signal, undefined)
  assert.equal(timers.pending, 0)
  caller.abort('stop')
  assert.equal(withCaller.abortedByCaller, true)
  assert.equal(alone.abortedByCaller, false)
  assert.equal(alone.expired, false)
})

test('dispose stops the timer and stops following the caller signal', () => {
  const timers = manualTimers()
  const caller = new AbortController()
  const deadline = new Deadline(200, caller.signal, new Error('expired'), timers)
  deadline.dispose()
  assert.equal(timers.pending, 0)
  caller.abort(new Error('late'))
  assert.equal(deadline.signal?.aborted, false)
})

test('without injected timers the deadline expires on a real timer', async () => {
  const expired = new Error('expired')
  const deadline = new Deadline(5, undefined, expired)
  assert.ok(deadline.signal)
  await once(deadline.signal, 'abort')
  assert.equal(deadline.signal.reason, expired)
  deadline.dispose()
})
