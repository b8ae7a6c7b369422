import assert from 'node:assert/strict'
import { test } from 'node:test'
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
