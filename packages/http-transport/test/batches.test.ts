import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import type { HttpTransportOptions } from '../src/index.js'
import { startBus } from './fake-bus.js'
import { httpRelay } from './relay.js'

async function startRelay(
  t: TestContext,
  exocomPort: number,
  options: Partial<HttpTransportOptions> = {},
) {
  const relay = httpRelay('web', exocomPort, options)
  relay.registerHandler('web.ping', () => {})
  t.after(() => relay.close())
  await relay.listen()
  return relay
}

test('the relay offers batches in its registration, and not with batches: false', async (t) => {
  const bus = await startBus(t, '')
  await startRelay(t, bus.port)
  await startRelay(t, bus.port, { batches: false })
  const [offered, plain] = bus.requests
    .filter((request) => request.method === 'PUT')
    .map((request) => JSON.parse(request.body) as Record<string, unknown>)
  assert.equal(offered?.batches, true)
  assert.equal(plain !== undefined && 'batches' in plain, false)
})

test('to a bus that offers batches, a busy relay sends several messages in one POST /send', async (t) => {
  const bus = await startBus(t, '{"batches":true}')
  const relay = await startRelay(t, bus.port, { batchAfter: 1 })
  const first = relay.send('users.create', { name: 'a' }, { reply: false })
  await bus.received(2)
  const more = [
    relay.send('users.create', { name: 'b' }, { reply: false }),
    relay.send('users.delete', { name: 'c' }, { reply: false }),
  ]
  bus.state.holding = false
  bus.release()
  await Promise.all([first, ...more])
  assert.deepEqual(
    bus.requests.map((request) => request.url),
    ['/services/web', '/send/users.create', '/send'],
  )
  const batch = JSON.parse(bus.requests[2]?.body ?? '') as Record<string, unknown>[]
  assert.deepEqual(
    batch.map(({ name, sender, payload }) => ({ name, sender, payload })),
    [
      { name: 'users.create', sender: 'web', payload: { name: 'b' } },
      { name: 'users.delete', sender: 'web', payload: { name: 'c' } },
    ],
  )
})

test('with batches: false a busy relay sends every message alone, even to a bus that offers batches', async (t) => {
  const bus = await startBus(t, '{"batches":true}')
  const relay = await startRelay(t, bus.port, { batches: false, batchAfter: 1 })
  const sent = ['a', 'b', 'c'].map((name) => relay.send('users.create', { name }, { reply: false }))
  // All three arrive while the first is still held.
  await bus.received(4)
  bus.state.holding = false
  bus.release()
  await Promise.all(sent)
  assert.deepEqual(
    bus.requests.map((request) => request.url),
    ['/services/web', '/send/users.create', '/send/users.create', '/send/users.create'],
  )
})
