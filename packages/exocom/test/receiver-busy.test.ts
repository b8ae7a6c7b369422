import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes } from '@exorelay/core'
import { type EventClient, followEvents } from './events-client.js'
import { request, send, serviceOf, startBus, startReceiver, withDeadline } from './helpers.js'

// The bus refuses a message at the door (503 EXORELAY_ERR_BUS_RECEIVER_BUSY, retry-after) when
// one of its receivers has as many messages under way as the bus holds for it, instead of
// answering 200 and then dropping the delivery: the sender learns it at once, and nothing it
// was told was accepted is ever lost.

const BUSY =
  /^ExoCom did not accept the message 'orders\.create': its receiver 'orders' has 3 messages under way, as many as ExoCom holds for one receiver \(maxPending 3\)\. Nothing was delivered[^.]*\. The receiver is slow or hung: find out why it does not answer, or send less at once; raise ExoCom's maxPending if the receiver keeps up with more\. Send it again later\.$/

/** Resolves once the stream told that each of `ids` was delivered. */
async function delivered(events: EventClient, ids: readonly string[]): Promise<void> {
  for (const id of ids) {
    await events.next(
      (event) => event.type === 'delivery' && event.id === id && event.outcome === 'delivered',
    )
  }
}

test('the message past maxPending to a hung receiver is refused with 503, its code and retry-after; the next after the hung ones end is accepted', async (t) => {
  const { exocom, log } = await startBus(t, { maxPending: 3 })
  const orders = await startReceiver(t, 'orders', 'hang')
  await request(exocom, 'PUT', '/services/orders', serviceOf(orders, ['orders.create']))
  const events = await followEvents(t, exocom.url)

  for (const id of ['m-1', 'm-2', 'm-3']) {
    assert.equal((await send(exocom, 'orders.create', { sender: 'web', id })).status, 200)
  }
  const response = await withDeadline(
    fetch(`${exocom.url}/send/orders.create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sender: 'web', id: 'm-4' }),
    }),
    10_000,
    () => 'the bus did not answer the fourth message',
  )
  assert.equal(response.status, 503)
  assert.equal(response.headers.get('exorelay-error-code'), ErrorCodes.BUS_RECEIVER_BUSY)
  assert.equal(response.headers.get('retry-after'), '1')
  assert.match(await response.text(), BUSY)
  const [warning] = log.at('warn').filter((entry) => entry.fields.messageId === 'm-4')
  assert.match(warning?.message ?? '', /^not accepted: ExoCom did not accept/)

  await orders.waitForRuns(3)
  orders.release()
  await delivered(events, ['m-1', 'm-2', 'm-3'])
  // The three hung deliveries ended: the receiver has room again.
  assert.equal((await send(exocom, 'orders.create', { sender: 'web', id: 'm-5' })).status, 200)
  const runs = await orders.waitForRuns(4)
  orders.release()
  assert.deepEqual(
    runs.map((run) => (run.body as { id: string }).id),
    ['m-1', 'm-2', 'm-3', 'm-5'],
  )
})

test('a fan-out where one of two receivers is at its limit is refused for both: one outcome per message', async (t) => {
  const { exocom } = await startBus(t, { maxPending: 3 })
  const orders = await startReceiver(t, 'orders', 'hang')
  const audit = await startReceiver(t, 'audit')
  await request(exocom, 'PUT', '/services/orders', serviceOf(orders, ['orders.create']))
  await request(exocom, 'PUT', '/services/audit', serviceOf(audit, ['orders.create']))
  const events = await followEvents(t, exocom.url)

  for (const id of ['m-1', 'm-2', 'm-3']) {
    assert.equal((await send(exocom, 'orders.create', { sender: 'web', id })).status, 200)
  }
  await audit.waitForRuns(3)
  const refused = await send(exocom, 'orders.create', { sender: 'web', id: 'm-4' })

  assert.equal(refused.status, 503)
  assert.equal(refused.code, ErrorCodes.BUS_RECEIVER_BUSY)
  assert.match(refused.text, /Nothing was delivered to any of its 2 receivers\./)
  // The stream tells the message and one `busy` outcome for each receiver, none delivered.
  const busy = (receiver: string) =>
    events.next(
      (event) =>
        event.type === 'delivery' &&
        event.id === 'm-4' &&
        event.receiver === receiver &&
        event.outcome === 'busy',
    )
  const [toOrders, toAudit] = await Promise.all([busy('orders'), busy('audit')])
  assert.equal(
    toOrders.type === 'delivery' ? toOrders.error?.code : undefined,
    ErrorCodes.BUS_RECEIVER_BUSY,
  )
  assert.equal(toAudit.type, 'delivery')
  await events.next((event) => event.type === 'message' && event.id === 'm-4')
  await orders.waitForRuns(3)
  orders.release()
  await delivered(events, ['m-1', 'm-2', 'm-3'])
  assert.equal(audit.runs.length, 3)
  assert.equal(orders.runs.length, 3)
  assert.ok(
    events.events.every(({ data }) => !(data.type === 'delivery' && data.outcome === 'dropped')),
  )
})

test('a batch with entries to a busy receiver gets a result for each entry', async (t) => {
  const { exocom } = await startBus(t, { maxPending: 3 })
  const orders = await startReceiver(t, 'orders', 'hang')
  const users = await startReceiver(t, 'users')
  await request(exocom, 'PUT', '/services/orders', serviceOf(orders, ['orders.create']))
  await request(exocom, 'PUT', '/services/users', serviceOf(users, ['users.create']))
  const events = await followEvents(t, exocom.url)

  const answer = await request(exocom, 'POST', '/send', [
    { name: 'orders.create', sender: 'web', id: 'o-1' },
    { name: 'orders.create', sender: 'web', id: 'o-2' },
    { name: 'users.create', sender: 'web', id: 'u-1' },
    { name: 'orders.create', sender: 'web', id: 'o-3' },
    { name: 'orders.create', sender: 'web', id: 'o-4' },
    { name: 'users.create', sender: 'web', id: 'u-2' },
  ])

  assert.equal(answer.status, 200)
  const results = JSON.parse(answer.text) as {
    status: number
    code?: string
    error?: string
    retryAfter?: number
  }[]
  assert.deepEqual(
    results.map(({ status, code }) => [status, code]),
    [
      [200, undefined],
      [200, undefined],
      [200, undefined],
      [200, undefined],
      [503, ErrorCodes.BUS_RECEIVER_BUSY],
      [200, undefined],
    ],
  )
  assert.match(results[4]?.error ?? '', BUSY)
  assert.equal(results[4]?.retryAfter, 1)
  await users.waitForRuns(2)
  await orders.waitForRuns(3)
  orders.release()
  await delivered(events, ['o-1', 'o-2', 'o-3'])
  assert.deepEqual(
    orders.runs.map((run) => (run.body as { id: string }).id),
    ['o-1', 'o-2', 'o-3'],
  )
})

// Found by the curves benchmark: with a limit of 1,000, 1,024 requests in flight from one
// service to another got 23 timeouts, and a fan-out whose 1,024 replies were under way to the
// requester lost 7: the bus answered 200 and then dropped the deliveries past the limit.
for (const senders of [1, 16]) {
  test(`1,024 messages under way to one hung receiver from ${senders} sender(s) are all accepted and all delivered`, {
    timeout: 60_000,
  }, async (t) => {
    // Deliveries wait in the receiver's pool while it hangs: no deadline may end them first.
    const { exocom, log } = await startBus(t, { deliveryTimeout: 50_000 })
    let recovered = false
    const web = await startReceiver(t, 'web', () => (recovered ? 'ok' : 'hang'))
    await request(exocom, 'PUT', '/services/web', serviceOf(web, ['orders.created']))

    const answers = await Promise.all(
      Array.from({ length: 1024 }, (_, n) =>
        send(exocom, 'orders.created', { sender: `orders-${n % senders}`, id: `m-${n}` }),
      ),
    )

    assert.deepEqual(
      answers.filter((answer) => answer.status !== 200),
      [],
    )
    await web.waitForRuns(64)
    recovered = true
    web.release()
    const runs = await web.waitForRuns(1024, 30_000)
    assert.equal(new Set(runs.map((run) => (run.body as { id: string }).id)).size, 1024)
    assert.deepEqual(
      log.at('warn').map((entry) => entry.message),
      [],
    )
  })
}
