import assert from 'node:assert/strict'
import { EventEmitter, once } from 'node:events'
import { test } from 'node:test'
import { ErrorCodes } from '@exorelay/core'
import Fastify from 'fastify'
import { MockExoCom } from '../src/index.js'

/** A service stand-in that records every POST /run it gets. */
async function recordingService(t: { after: (fn: () => Promise<unknown>) => void }, status = 200) {
  const received: { url: string; body: any }[] = []
  const arrived = new EventEmitter()
  const app = Fastify()
  app.post('/run/*', async (request, reply) => {
    received.push({ url: request.url, body: request.body })
    arrived.emit('run')
    return reply.code(status).send()
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.after(() => app.close())
  const port = (app.server.address() as { port: number }).port
  /** Resolves once `count` runs arrived in all; rejects saying how many did within `timeout` ms. */
  const next = async (count: number, timeout = 10_000) => {
    // AbortSignal.timeout's timer is unref'd: it never keeps the test process alive.
    const signal = AbortSignal.timeout(timeout)
    while (received.length < count) {
      try {
        await once(arrived, 'run', { signal })
      } catch {
        throw new Error(
          `next(${count}): the service got ${received.length} run(s) within ${timeout} ms`,
        )
      }
    }
    return received
  }
  return { port, received, next }
}

async function mock(t: { after: (fn: () => Promise<unknown>) => void }) {
  const exocom = new MockExoCom()
  const port = await exocom.listen()
  t.after(() => exocom.close())
  const post = (name: string, body: unknown) =>
    fetch(`http://127.0.0.1:${port}/send/${encodeURIComponent(name)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  return { exocom, port, post }
}

test('records what services send, as messages and as raw requests', async (t) => {
  const { exocom, post } = await mock(t)
  const response = await post('users.create', { sender: 'web', id: '1', payload: { name: 'Will' } })
  assert.equal(response.status, 200)
  assert.deepEqual(exocom.receivedMessages, [
    { name: 'users.create', id: '1', sender: 'web', payload: { name: 'Will' } },
  ])
  assert.equal(exocom.receivedRequests[0]!.url, '/send/users.create')
  assert.equal(exocom.receivedRequests[0]!.headers['content-type'], 'application/json')
})

test('a message without an id is refused with 400 and a code, and not recorded', async (t) => {
  const { exocom, post } = await mock(t)
  const response = await post('users.create', { sender: 'web' })
  assert.equal(response.status, 400)
  assert.equal(response.headers.get('exorelay-error-code'), ErrorCodes.MISSING_ID)
  assert.deepEqual(exocom.receivedMessages, [])
})

test('waitForMessage resolves for earlier and later messages, and times out with a code', async (t) => {
  const { exocom, post } = await mock(t)
  await post('first', { sender: 'web', id: '1' })
  assert.equal((await exocom.waitForMessage('first')).id, '1')
  const later = exocom.waitForMessage('second')
  await post('second', { sender: 'web', id: '2' })
  assert.equal((await later).id, '2')
  await assert.rejects(exocom.waitForMessage('never', { timeout: 20 }), {
    code: ErrorCodes.TIMEOUT,
    message: /No message 'never' arrived \(received: first, second\)/,
  })
})

test('send posts to a registered service as ExoCom does and resolves with its status', async (t) => {
  const { exocom } = await mock(t)
  const service = await recordingService(t, 202)
  exocom.registerService({ name: 'users', port: service.port })
  const status = await exocom.send({
    service: 'users',
    name: 'users.create',
    id: 'x',
    payload: [1],
    responseTo: 'y',
  })
  assert.equal(status, 202)
  assert.deepEqual(service.received, [
    { url: '/run/users.create', body: { id: 'x', payload: [1], responseTo: 'y' } },
  ])
  await assert.rejects(exocom.send({ service: 'nobody', name: 'x' }), /knows no service 'nobody'/)
})

test('forwards to receivers by name and replies to their requester, without the sender key', async (t) => {
  const { exocom, post } = await mock(t)
  const users = await recordingService(t)
  const web = await recordingService(t)
  exocom.registerService({ name: 'users', port: users.port, receives: ['users.create'] })
  exocom.registerService({ name: 'web', port: web.port })

  await post('users.create', { sender: 'web', id: 'request', payload: 'p' })
  await post('users.created', { sender: 'users', id: 'reply', responseTo: 'request' })

  assert.deepEqual(await users.next(1), [
    { url: '/run/users.create', body: { id: 'request', payload: 'p' } },
  ])
  assert.deepEqual(await web.next(1), [
    { url: '/run/users.created', body: { id: 'reply', responseTo: 'request' } },
  ])
})

test('services register and withdraw themselves over the self-registration extension', async (t) => {
  const { exocom, port } = await mock(t)
  const registered = exocom.waitForService('users')
  const put = await fetch(`http://127.0.0.1:${port}/services/users`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'users',
      host: '127.0.0.1',
      port: 4001,
      receives: ['users.create'],
    }),
  })
  assert.equal(put.status, 200)
  assert.equal((await registered).port, 4001)
  const removed = await fetch(`http://127.0.0.1:${port}/services/users`, { method: 'DELETE' })
  assert.equal(removed.status, 200)
  assert.deepEqual(exocom.services, [])
  assert.equal(
    (await fetch(`http://127.0.0.1:${port}/services/users`, { method: 'DELETE' })).status,
    404,
  )
})

test('sendStatus makes the bus refuse, and reset() forgets messages and restores 200', async (t) => {
  const { exocom, post } = await mock(t)
  exocom.sendStatus = 503
  assert.equal((await post('x', { sender: 'web', id: '1' })).status, 503)
  exocom.reset()
  assert.deepEqual(exocom.receivedMessages, [])
  assert.deepEqual(exocom.receivedRequests, [])
  assert.equal((await post('x', { sender: 'web', id: '2' })).status, 200)
})
