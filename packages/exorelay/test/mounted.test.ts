import assert from 'node:assert/strict'
import { once } from 'node:events'
import { test } from 'node:test'
import { MockExoCom } from '@exorelay/testing'
import Fastify from 'fastify'
import { ExoRelay } from '../src/index.js'

test('a relay mounted in a Fastify app serves the app and the relay on one port', async (t) => {
  const exocom = new MockExoCom()
  const exocomPort = await exocom.listen()
  t.after(() => exocom.close())
  const app = Fastify()
  const relay = new ExoRelay({ serviceName: 'web', exocomPort, fastify: app, logger: false })
  relay.registerHandler('users.created', () => {})
  app.get('/users', async () => [{ name: 'Will' }])
  app.setErrorHandler((_error, _request, reply) => reply.code(418).send({ mine: true }))
  app.get('/broken', async () => {
    throw new Error('user code fails')
  })
  const online = once(relay, 'online')
  const offline = once(relay, 'offline')

  await app.listen({ port: 0, host: '127.0.0.1' })
  const appPort = (app.server.address() as { port: number }).port
  const [port] = await online

  assert.equal(port, appPort)
  assert.deepEqual(await (await fetch(`http://127.0.0.1:${appPort}/users`)).json(), [
    { name: 'Will' },
  ])
  const broken = await fetch(`http://127.0.0.1:${appPort}/broken`)
  assert.equal(broken.status, 418, "the app's own error handler still answers its routes")
  const registered = await exocom.waitForService('web')
  assert.equal(registered.port, appPort)
  assert.equal(await exocom.send({ service: 'web', name: 'users.created', payload: {} }), 200)
  assert.equal(await exocom.send({ service: 'web', name: 'zonk' }), 404)

  await app.close()
  await offline
  assert.equal(relay.online, false)
  assert.deepEqual(exocom.services, [], 'the relay withdrew from the bus when the app closed')
})

test('a mounted relay answers 503 until the app listens', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  const relay = new ExoRelay({
    serviceName: 'web',
    exocomPort: 1,
    fastify: app,
    logger: false,
    register: false,
  })
  relay.registerHandler('hello', () => {})
  const response = await app.inject({ method: 'POST', url: '/run/hello', payload: { id: '1' } })
  assert.equal(response.statusCode, 503)
})

test("maxConnections is not applied to the app's server: the app owns its connections", async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  const before = app.server.maxConnections
  const relay = new ExoRelay({
    serviceName: 'web',
    exocomPort: 1,
    fastify: app,
    logger: false,
    register: false,
    maxConnections: 3,
  })
  const online = once(relay, 'online')
  await app.listen({ port: 0, host: '127.0.0.1' })
  await online

  assert.equal(app.server.maxConnections, before)
  assert.notEqual(app.server.maxConnections, 3)
})
