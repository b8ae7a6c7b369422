import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type TestContext, test } from 'node:test'
import type { HttpTransportOptions } from '../src/index.js'
import { httpRelay } from './relay.js'

interface Arrived {
  method: string
  url: string
  body: string
}

/**
 * A bus stand-in on a real server: answers registrations with `offer`, holds single sends
 * while `holding`, and accepts every message of a batch. Independent of `@exorelay/exocom`.
 */
async function startBus(t: TestContext, offer: string) {
  const requests: Arrived[] = []
  const held: ServerResponse[] = []
  const arrivals: { count: number; resolve: () => void }[] = []
  const state = { holding: true }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const request = {
        method: req.method ?? '',
        url: req.url ?? '',
        body: Buffer.concat(chunks).toString('utf8'),
      }
      requests.push(request)
      for (const waiter of arrivals.filter((w) => requests.length >= w.count)) {
        arrivals.splice(arrivals.indexOf(waiter), 1)
        waiter.resolve()
      }
      if (request.method === 'PUT') res.end(offer)
      else if (request.url === '/send') {
        const entries = JSON.parse(request.body) as unknown[]
        res.end(JSON.stringify(entries.map(() => ({ status: 200 }))))
      } else if (request.method === 'POST' && state.holding) held.push(res)
      else res.end()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(async () => {
    server.closeAllConnections()
    server.close()
    await once(server, 'close')
  })
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    state,
    release: () => {
      for (const res of held.splice(0)) res.end()
    },
    received: (count: number) =>
      requests.length >= count
        ? Promise.resolve()
        : new Promise<void>((resolve) => arrivals.push({ count, resolve })),
  }
}

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
