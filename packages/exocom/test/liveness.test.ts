import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes } from '@exorelay/core'
import { freePort } from '@exorelay/testing'
import { request, send, serviceOf, startBus, startReceiver } from './helpers.js'

// Issue 14, case 4: a service that died without withdrawing was routed for ever, the bus
// answered its senders 200, and each of them waited its whole timeout.

test('a request to a self-registered service where nothing listens drops it and answers the requester at once', async (t) => {
  const { exocom, log } = await startBus(t)
  const web = await startReceiver(t, 'web')
  const port = await freePort()
  await request(exocom, 'PUT', '/services/web', { ...serviceOf(web, []), errorReplies: true })
  await request(exocom, 'PUT', '/services/users', {
    name: 'users',
    host: '127.0.0.1',
    port,
    receives: ['users.create'],
  })

  assert.equal((await send(exocom, 'users.create', { sender: 'web', id: 'm-1' })).status, 200)

  // The requester hears of it in the time of a refused connection, not of its deadline.
  const [run] = await web.waitForRuns(1, 5_000)
  assert.equal(run?.url, '/run/__error')
  const body = run?.body as { responseTo: string; payload: { code: string; message: string } }
  assert.equal(body.responseTo, 'm-1')
  assert.equal(body.payload.code, ErrorCodes.RECEIVER_UNREACHABLE)
  assert.match(
    body.payload.message,
    new RegExp(
      `^The service 'users', the only receiver of 'users.create', is unreachable: nothing listens at http://127\\.0\\.0\\.1:${port}\\. ExoCom dropped it`,
    ),
  )
  assert.deepEqual(Object.keys(exocom.config().services), ['web'])
  await log.waitFor(
    (entry) => /^service 'users' dropped: nothing listens at/.test(entry.message ?? ''),
    {
      timeout: 5_000,
    },
  )
  // The next sender learns at once that nobody receives it.
  const next = await send(exocom, 'users.create', { sender: 'web', id: 'm-2' })
  assert.equal(next.status, 404)
  assert.equal(next.code, ErrorCodes.NO_RECEIVER)
})

test('a configured service where nothing listens stays routed: an original relay never registers again by itself', async (t) => {
  const { exocom } = await startBus(t)
  const web = await startReceiver(t, 'web')
  const port = await freePort()
  await request(exocom, 'POST', '/services', [
    { ...serviceOf(web, []), errorReplies: true },
    { name: 'users', host: '127.0.0.1', port, receives: ['users.create'] },
  ])

  assert.equal((await send(exocom, 'users.create', { sender: 'web', id: 'm-1' })).status, 200)

  const [run] = await web.waitForRuns(1, 5_000)
  const body = run?.body as { payload: { code: string; message: string } }
  assert.equal(body.payload.code, ErrorCodes.RECEIVER_UNREACHABLE)
  assert.match(body.payload.message, /Start it, or correct its address in the routing table\.$/)
  assert.deepEqual(Object.keys(exocom.config().services), ['web', 'users'])
})

test('a requester that did not declare errorReplies is not told; nor is one whose request another service got', async (t) => {
  const { exocom, log } = await startBus(t)
  const web = await startReceiver(t, 'web')
  const shop = await startReceiver(t, 'shop')
  const audit = await startReceiver(t, 'audit')
  const port = await freePort()
  await request(exocom, 'POST', '/services', [
    serviceOf(web, ['web.marker']),
    { ...serviceOf(shop, ['shop.marker']), errorReplies: true },
    serviceOf(audit, ['orders.create']),
    { name: 'orders', host: '127.0.0.1', port, receives: ['orders.create', 'users.create'] },
  ])

  // To one receiver, from an original-style requester: it times out as it always did.
  assert.equal((await send(exocom, 'users.create', { sender: 'web', id: 'm-1' })).status, 200)
  await log.waitFor(
    (entry) => entry.fields.messageId === 'm-1' && entry.fields.receiver === 'orders',
    { timeout: 5_000 },
  )
  // To two receivers, one of them alive: the live one has it, and the requester hears nothing.
  assert.equal((await send(exocom, 'orders.create', { sender: 'shop', id: 'm-2' })).status, 200)
  await audit.waitForRuns(1, 5_000)
  await log.waitFor(
    (entry) => entry.fields.messageId === 'm-2' && entry.fields.receiver === 'orders',
    { timeout: 5_000 },
  )
  // A message sent after it arrives after anything the bus would have said about m-2.
  assert.equal((await send(exocom, 'shop.marker', { sender: 'web', id: 'm-3' })).status, 200)
  await shop.waitForRuns(1, 5_000)
  assert.deepEqual(
    shop.runs.map((run) => run.url),
    ['/run/shop.marker'],
  )
  assert.equal((await send(exocom, 'web.marker', { sender: 'shop', id: 'm-4' })).status, 200)
  await web.waitForRuns(1, 5_000)
  assert.deepEqual(
    web.runs.map((run) => run.url),
    ['/run/web.marker'],
  )
  // The failed deliveries are the only warnings: nothing about error replies nobody gets.
  assert.deepEqual(
    log.at('warn').map((entry) => entry.fields.messageId),
    ['m-1', 'm-2'],
  )
})

test('a self-registered service that misses three of its registrations is dropped and logged', async (t) => {
  const { exocom, log } = await startBus(t)
  const users = await startReceiver(t, 'users')
  const web = await startReceiver(t, 'web')
  await request(exocom, 'PUT', '/services/users', {
    ...serviceOf(users, ['users.create']),
    registerInterval: 50,
  })
  await request(exocom, 'POST', '/services', [serviceOf(web, [])])

  const dropped = await log.waitFor(
    (entry) => /^service 'users' dropped: it has not registered for/.test(entry.message ?? ''),
    { timeout: 5_000 },
  )

  assert.match(
    dropped.message ?? '',
    /for 1000 ms \(it registers every 50 ms; 3 missed, or at least 1 s\)/,
  )
  assert.deepEqual(Object.keys(exocom.config().services), ['web'])
  // Registering again brings it back.
  await request(exocom, 'PUT', '/services/users', serviceOf(users, ['users.create']))
  assert.equal((await send(exocom, 'users.create', { sender: 'web', id: 'm-1' })).status, 200)
  await users.waitForRuns(1, 5_000)
})
