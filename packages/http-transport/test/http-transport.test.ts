import assert from 'node:assert/strict'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { ErrorCodes, type ExoRelayError, Relay, silentLogger } from '@exorelay/core'
import { startExoCom } from '@exorelay/exocom'
import { RecordingLogger } from '@exorelay/testing'
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

test('mounted, a relay whose bus delivers without its token tells onError once and reports bus unauthorized', async (t) => {
  const bus = await startExoCom({ port: 0, logger: false })
  const app = Fastify()
  const log = new RecordingLogger()
  const errors: ExoRelayError[] = []
  const transport = new HttpTransport({
    exocomHost: '127.0.0.1',
    exocomPort: bus.port,
    defaultPort: 0,
    host: '127.0.0.1',
    advertisedHost: '127.0.0.1',
    fastify: app,
    token: 's3cret-token-2236067977',
    logger: log,
    onError: (error) => errors.push(error),
  })
  const users = new Relay({ serviceName: 'users', transport })
  users.registerHandler('users.created', () => assert.fail('delivered without the token'))
  mountRelay(app, users)
  const web = httpRelay('web', bus.port, { register: false })
  t.after(async () => {
    await web.close()
    await app.close()
    await bus.close()
  })
  const online = once(users, 'online')
  await app.listen({ port: 0, host: '127.0.0.1' })
  await online
  await web.listen()
  assert.deepEqual(transport.busStatus(), { bus: 'reachable', registered: true })

  for (let delivery = 1; delivery <= 3; delivery++) {
    await web.send('users.created', { delivery }, { reply: false, timeout: 5_000 })
    let seen = 0
    await log.waitFor(
      (entry) =>
        entry.message === 'request refused: missing or invalid token' && ++seen === delivery,
    )
  }
  const status = await app.inject({ method: 'GET', url: '/status' })

  assert.equal(errors.length, 1, 'once for three refused deliveries')
  assert.equal(errors[0]?.code, ErrorCodes.UNAUTHORIZED)
  assert.deepEqual(
    log.at('error').map((entry) => entry.message),
    [errors[0]?.message],
  )
  assert.deepEqual(transport.busStatus(), { bus: 'unauthorized', registered: true })
  assert.equal((status.json() as { bus: string }).bus, 'unauthorized')
})

test('a refused registration (401) is no outage: the outage after it still gets its one warning', async (t) => {
  const bus = await startBus(t, '')
  const log = new RecordingLogger()
  const relay = httpRelay('web', bus.port, { registerInterval: 20, logger: log })
  t.after(() => relay.close())
  await relay.listen()

  bus.state.refusing = true
  await log.waitFor((entry) => entry.message?.startsWith('ExoCom still refuses the token') === true)
  assert.equal(relay.status().registered, false)
  await bus.stop()
  const warning = await log.waitFor((entry) => entry.level === 'warn', { timeout: 10_000 })

  assert.equal(warning.fields.code, ErrorCodes.BUS_UNREACHABLE)
  assert.match(warning.message ?? '', /^could not register with ExoCom: /)
  assert.equal(relay.status().registered, false)
})

test('close() after a refused registration still withdraws from the bus', async (t) => {
  const bus = await startBus(t, '')
  const log = new RecordingLogger()
  const relay = httpRelay('web', bus.port, { registerInterval: 20, logger: log })
  await relay.listen()

  bus.state.refusing = true
  await log.waitFor((entry) => entry.message?.startsWith('ExoCom still refuses the token') === true)
  await relay.close()

  assert.ok(
    bus.requests.some(({ method, url }) => method === 'DELETE' && url.startsWith('/services/web')),
    `no withdrawal among ${bus.requests.map(({ method, url }) => `${method} ${url}`).join(', ')}`,
  )
})

test('closing a relay whose bus went away logs the failed withdrawal, then closing, never withdrawn', async (t) => {
  const bus = await startBus(t, '')
  const log = new RecordingLogger()
  const relay = httpRelay('web', bus.port, { logger: log }, { logger: log })
  await relay.listen()

  // Gone before the relay's next registration: it still believes itself registered.
  await bus.stop()
  await relay.close()

  const lines = log.entries.filter((entry) => entry.level !== 'debug').map((entry) => entry.message)
  const failed = lines.findIndex((message) => message?.startsWith('could not withdraw from ExoCom'))
  assert.ok(failed !== -1, `no failed withdrawal among ${lines.join(' / ')}`)
  assert.equal(lines[failed + 1], 'closing: new messages are refused while handlers finish')
  assert.ok(!lines.some((message) => message?.startsWith('withdrawn')))
})

test('invalid register, registerInterval and onError options are refused with INVALID_OPTION', () => {
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
  assert.throws(() => new HttpTransport({ ...base, onError: 'log' as unknown as () => void }), {
    code: ErrorCodes.INVALID_OPTION,
    message: /onError option must be a function, got 'log'/,
  })
  assert.ok(new Relay({ serviceName: 'web', transport: new HttpTransport(base) }))
})
