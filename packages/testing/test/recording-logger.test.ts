import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { ErrorCodes } from '@exorelay/core'
import { RecordingLogger } from '../src/recording-logger.js'

test('it keeps every line with its level, fields and message, in order', () => {
  const log = new RecordingLogger()
  log.info({ messageName: 'users.create' }, 'sending')
  log.warn({ status: 500 }, 'send failed')
  log.debug({})
  assert.deepEqual(log.entries, [
    { level: 'info', fields: { messageName: 'users.create' }, message: 'sending' },
    { level: 'warn', fields: { status: 500 }, message: 'send failed' },
    { level: 'debug', fields: {}, message: undefined },
  ])
  assert.deepEqual(
    log.at('warn').map((entry) => entry.message),
    ['send failed'],
  )
  assert.equal(log.find('sending').length, 1)
  assert.equal(log.find('sending', 'warn').length, 0)
})

test("a child's lines carry its bindings and land in its root's record", () => {
  const log = new RecordingLogger()
  const child = log.child({ service: 'web' }).child({ part: 'sender' })
  child.error({ part: 'listener', code: 'X' }, 'failed')
  assert.deepEqual(log.entries, [
    { level: 'error', fields: { service: 'web', part: 'listener', code: 'X' }, message: 'failed' },
  ])
})

test('waitFor resolves with a past line at once, and with a future one when it comes', async () => {
  const log = new RecordingLogger()
  log.info({ id: 1 }, 'first')
  assert.equal((await log.waitFor((entry) => entry.message === 'first')).fields.id, 1)
  const later = log.waitFor((entry) => entry.level === 'warn')
  const otherLater = log.waitFor((entry) => entry.message === 'never')
  log.child({ service: 'web' }).warn({ id: 2 }, 'second')
  const entry = await later
  assert.deepEqual(entry.fields, { service: 'web', id: 2 })
  let settled = false
  void otherLater.then(() => {
    settled = true
  })
  await Promise.resolve()
  assert.equal(settled, false)
})

/**
 * waitFor's deadline timer is unref'd, so that it never holds a process; here nothing else
 * would hold this one, and the runner would cancel the test before the deadline passed.
 */
function holdEventLoop(t: TestContext): void {
  const hold = setInterval(() => {}, 60_000)
  t.after(() => clearInterval(hold))
}

test('waitFor rejects with TIMEOUT naming the latest lines when none matches within its timeout', async (t) => {
  holdEventLoop(t)
  const log = new RecordingLogger()
  log.info({ id: 1 }, 'first')
  log.child({ service: 'web' }).warn({ id: 2 }, 'second')
  await assert.rejects(
    log.waitFor((entry) => entry.message === 'never', { timeout: 20 }),
    (error: Error & { code?: string; timeout?: number }) => {
      assert.equal(error.code, ErrorCodes.TIMEOUT)
      assert.equal(error.timeout, 20)
      assert.equal(
        error.message,
        'waitFor: no log entry matched within 20 ms; last entries: ' +
          `info 'first' {"id":1}; warn 'second' {"service":"web","id":2}`,
      )
      return true
    },
  )
  // The timed-out waiter is gone: a later matching line settles nothing twice.
  log.info({}, 'never')
})

test('waitFor says so when nothing was logged at all', async (t) => {
  holdEventLoop(t)
  const log = new RecordingLogger()
  await assert.rejects(
    log.waitFor(() => true, { timeout: 10 }),
    {
      code: ErrorCodes.TIMEOUT,
      message: 'waitFor: no log entry matched within 10 ms; last entries: none',
    },
  )
})

test('waitFor within its timeout resolves with the line that came', async () => {
  const log = new RecordingLogger()
  const later = log.waitFor((entry) => entry.message === 'soon', { timeout: 1_000 })
  log.info({}, 'soon')
  assert.equal((await later).message, 'soon')
})
