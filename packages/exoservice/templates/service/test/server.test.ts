import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { MockExoCom, withDeadline } from '@exorelay/testing'
import { startService } from 'exoservice'

// The service runs as `exoservice run` runs it, against a mock bus on a free port: the test
// posts it a message as the bus would, and waits for its reply. Every wait has a deadline, so
// that a broken service fails the test instead of hanging it.

async function start(t: TestContext) {
  const exocom = new MockExoCom()
  const exocomPort = await exocom.listen()
  t.after(() => exocom.close())
  const service = await withDeadline(
    startService(new URL('..', import.meta.url), { exocomPort, port: 0, logger: false }),
    10_000,
    () => 'the service did not start',
  )
  t.after(() => service.close())
  return exocom
}

test('__NAME__.hello replies __NAME__.greeted with a greeting', async (t) => {
  const exocom = await start(t)
  await exocom.send({
    service: '__NAME__',
    name: '__NAME__.hello',
    id: 'hello-1',
    payload: { name: 'Will' },
  })
  const greeted = await exocom.waitForMessage('__NAME__.greeted', { timeout: 5_000 })
  assert.equal(greeted.responseTo, 'hello-1')
  assert.deepEqual(greeted.payload, { greeting: 'Hello, Will!' })
})

test('__NAME__.hello without a name replies __NAME__.not-greeted', async (t) => {
  const exocom = await start(t)
  await exocom.send({ service: '__NAME__', name: '__NAME__.hello', payload: { name: '' } })
  const notGreeted = await exocom.waitForMessage('__NAME__.not-greeted', { timeout: 5_000 })
  assert.deepEqual(notGreeted.payload, { reason: 'the name is empty' })
})
