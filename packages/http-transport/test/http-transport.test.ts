import assert from 'node:assert/strict'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { ErrorCodes, Relay, silentLogger } from '@exorelay/core'
import Fastify from 'fastify'
import { HttpTransport, mountRelay } from '../src/index.js'
import { startBus } from './fake-bus.js'
import { httpRelay } from './relay.js'

test('a listening relay registers with the bus and registers again every registerInterval', async (t) => {
  const bus = await startBus(t, '')
  const relay = httpRelay('web', bus.port, { registerInterval: 10 })
  relay.registerHandler('web.ping', () => {})
  t.after(() => relay.close())
  await relay.listen()
  assert.equal(bus.requests.length, 1, 'listen() waits for the first registration')
  await bus.received(3)
  assert.deepEqual(
    new Set(bus.requests.map(({ method, url }) => `${method} ${url}`)),
    new Set(['PUT /services/web']),
  )
})

test('with register: false the relay never registers', async (t) => {
  const bus = await startBus(t, '')
  const relay = httpRelay('web', bus.port, { register: false })
  t.after(() => relay.close())
  await relay.listen()
  bus.state.holding = false
  await relay.send('users.create', {}, { reply: false })
  assert.deepEqual(
    bus.requests.map(({ method, url }) => `${method} ${url}`),
    ['POST /send/users.create'],
  )
})

test('mounted with mountRelay, the relay goes online when the app listens and closes with it', async (t) => {
  const bus = await startBus(t, '')
  const app = Fastify()
  app.get('/hello', async () => 'hi')
  const relay = httpRelay('web', bus.port, { fastify: app })
  mountRelay(app, relay)
  t.after(() => app.close())
  const online = once(relay, 'online')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const [port] = (await online) as [number]
  assert.equal(port, (app.server.address() as AddressInfo).port)
  assert.equal(relay.online, true)
  assert.deepEqual(
    bus.requests.map(({ method }) => method),
    ['PUT'],
  )
  await app.close()
  assert.equal(relay.status().state, 'closed')
})

test('mounted, a relay told to listen before the app does waits for the app', async (t) => {
  const bus = await startBus(t, '')
  const app = Fastify()
  const relay = httpRelay('web', bus.port, { fastify: app })
  t.after(async () => {
    await relay.close()
    await app.close()
  })
  const listening = relay.listen()
  await app.listen({ port: 0, host: '127.0.0.1' })
  assert.equal(await listening, (app.server.address() as AddressInfo).port)
})

test('invalid register and registerInterval options are refused with INVALID_OPTION', () => {
  const base = {
    exocomHost: '127.0.0.1',
    exocomPort: 1,
    defaultPort: 0,
    host: '127.0.0.1',
    advertisedHost: '127.0.0.1',
    logger: silentLogger,
  }
  for (const registerInterval of [0, -1, 1.5, '10' as unknown as number]) {
    assert.throws(() => new HttpTransport({ ...base, registerInterval }), {
      code: ErrorCodes.INVALID_OPTION,
      message: /registerInterval option must be .*, got/,
    })
  }
  assert.throws(() => new HttpTransport({ ...base, register: 'yes' as unknown as boolean }), {
    code: ErrorCodes.INVALID_OPTION,
    message: /register option must be a boolean, got 'yes'/,
  })
  assert.ok(new Relay({ serviceName: 'web', transport: new HttpTransport(base) }))
})
