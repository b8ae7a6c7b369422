import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import {
  type LogEntry,
  ORIGINAL_ERROR_PAGE,
  ORIGINAL_ERROR_PAGE_SENTENCE,
  type RecordingLogger,
} from '@exorelay/testing'
import type { ExoCom } from '../src/exocom.js'
import {
  type Behaviour,
  type Receiver,
  type RecordedRun,
  request,
  send,
  serviceOf,
  startBus,
  startReceiver,
} from './helpers.js'

/** Asserts that a log entry quotes nothing of the page but its sentence. */
function assertClean(entry: LogEntry | undefined): void {
  assert.ok(entry !== undefined)
  const { err, ...fields } = entry.fields
  const text = `${entry.message} ${JSON.stringify(fields)} ${(err as Error | undefined)?.message ?? ''}`
  for (const leak of ['<', '&#', '/home/', ' at ', 'client-registry', 'DOCTYPE']) {
    assert.ok(!text.includes(leak), `${leak} in ${text}`)
  }
}

/**
 * A receiver that holds its first two requests open, then answers as `after` says, on a bus
 * that offers batches: the messages sent while it holds them leave as one batch.
 */
async function busyReceiver(
  t: TestContext,
  after: (run: RecordedRun) => Behaviour,
): Promise<{ receiver: Receiver; exocom: ExoCom; log: RecordingLogger }> {
  let count = 0
  const receiver = await startReceiver(t, 'users', (run) => {
    count++
    return count <= 2 ? 'hang' : after(run)
  })
  const { exocom, log } = await startBus(t)
  const registered = await request(
    exocom,
    'PUT',
    '/services/users',
    serviceOf(receiver, ['users.create'], { batches: true }),
  )
  assert.equal(registered.status, 200)
  return { receiver, exocom, log }
}

async function sendAll(exocom: ExoCom, ids: string[]): Promise<void> {
  for (const id of ids) {
    const answer = await send(exocom, 'users.create', { sender: 'web', id, payload: { id } })
    assert.equal(answer.status, 200, answer.text)
  }
}

test("the warning about a receiver's HTML error page quotes its status and first sentence only", async (t) => {
  const receiver = await startReceiver(t, 'users', () => ({
    status: 500,
    body: ORIGINAL_ERROR_PAGE,
  }))
  const { exocom, log } = await startBus(t)
  const registered = await request(
    exocom,
    'PUT',
    '/services/users',
    serviceOf(receiver, ['users.create'], { batches: false }),
  )
  assert.equal(registered.status, 200)

  await sendAll(exocom, ['p-1'])
  await log.waitFor(() => log.at('warn').length === 1)

  const [warning] = log.at('warn')
  assert.equal(warning?.fields.status, 500)
  assert.equal(warning?.fields.response, ORIGINAL_ERROR_PAGE_SENTENCE)
  assertClean(warning)
})

test('the error of a batch result and a whole batch refused are quoted the same way', async (t) => {
  for (const after of [
    (run: RecordedRun): Behaviour => ({
      status: 200,
      body: (run.body as unknown[]).map(() => ({ status: 500, error: ORIGINAL_ERROR_PAGE })),
    }),
    (): Behaviour => ({ status: 500, body: ORIGINAL_ERROR_PAGE }),
  ]) {
    const { receiver, exocom, log } = await busyReceiver(t, after)
    await sendAll(exocom, ['b-1', 'b-2'])
    await receiver.waitForRuns(2)
    await sendAll(exocom, ['b-3', 'b-4'])
    receiver.release()
    await log.waitFor(() => log.at('warn').length === 2)

    for (const warning of log.at('warn')) {
      assert.equal(warning.fields.status, 500)
      assert.equal(warning.fields.response, ORIGINAL_ERROR_PAGE_SENTENCE)
      assertClean(warning)
    }
  }
})

test('a batch answered 200 with an HTML page is reported without quoting it', async (t) => {
  const { receiver, exocom, log } = await busyReceiver(t, () => ({
    status: 200,
    body: ORIGINAL_ERROR_PAGE,
  }))
  await sendAll(exocom, ['h-1', 'h-2'])
  await receiver.waitForRuns(2)
  await sendAll(exocom, ['h-3', 'h-4'])
  receiver.release()
  await log.waitFor(() => log.at('warn').length === 2)

  for (const warning of log.at('warn')) {
    assert.match(
      warning.message ?? '',
      /the receiver answered a batch of 2 with no valid results \(its body is not JSON\)/,
    )
    assertClean(warning)
  }
})
