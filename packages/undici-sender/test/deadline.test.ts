import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hasDeadlineTimer, nodeTimers, undiciTimeout } from '../src/deadline.js'

test('a deadline gets a timer of its own up to the largest delay Node timers hold', () => {
  assert.equal(hasDeadlineTimer(1), true)
  assert.equal(hasDeadlineTimer(10_000), true)
  assert.equal(hasDeadlineTimer(2 ** 31 - 1), true)
  assert.equal(hasDeadlineTimer(2 ** 31), false)
  assert.equal(hasDeadlineTimer(Number.POSITIVE_INFINITY), false)
})

test("undici's headers and body timeouts are the deadline rounded up, at most undici's 300 s", () => {
  assert.equal(undiciTimeout(200), 200)
  assert.equal(undiciTimeout(199.5), 200)
  assert.equal(undiciTimeout(0.2), 1)
  assert.equal(undiciTimeout(300_000), 300_000)
  assert.equal(undiciTimeout(3_600_000), 300_000)
  assert.equal(undiciTimeout(Number.POSITIVE_INFINITY), undefined)
})

test('the default timers are real, ref’d Node timers', async () => {
  let fired = false
  const handle = nodeTimers.setTimeout(() => {
    fired = true
  }, 1) as NodeJS.Timeout
  assert.equal(handle.hasRef(), true)
  await new Promise((resolve) => setTimeout(resolve, 5))
  assert.equal(fired, true)
  const cleared = nodeTimers.setTimeout(() => assert.fail('a cleared timer fired'), 1)
  nodeTimers.clearTimeout(cleared)
})
