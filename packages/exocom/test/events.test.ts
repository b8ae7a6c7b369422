import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { ErrorCodes } from '@exorelay/core'
import { freePort, RecordingLogger } from '@exorelay/testing'
import Fastify from 'fastify'
import type { DeliveryEvent, MessageEvent, ServiceEvent } from '../src/bus-events.js'
import { EventStream, preview } from '../src/event-stream.js'
import { followEvents } from './events-client.js'
import { request, send, serviceOf, startBus, startReceiver } from './helpers.js'

// The bus's event stream, `GET /events`, read as a client reads it: real bus, real receivers,
// fetch streaming the answer.

const isMessage = (id: string) => (event: { type: string; id?: string }) =>
  event.type === 'message' && event.id === id
const isDelivery = (id: string) => (event: { type: string; id?: string }) =>
  event.type === 'delivery' && event.id === id

const { version } = createRequire(import.meta.url)('../package.json') as { version: string }

test('the stream starts with hello, in the Server-Sent Events format, and shows no payload', async (t) => {
  const { exocom } = await startBus(t)
  const events = await followEvents(t, exocom.url)
  assert.equal(events.status, 200)
  assert.equal(events.headers.get('content-type'), 'text/event-stream; charset=utf-8')
  assert.equal(events.headers.get('cache-control'), 'no-store')
  const hello = await events.next((event) => event.type === 'hello')
  assert.equal(events.events[0]?.event, 'hello')
  assert.match(events.events[0]?.id ?? '', /^\d+$/)
  assert.equal(hello.type === 'hello' && hello.version, version)
  assert.match(hello.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
})

test('a request and its reply: a message event and a delivery event each, in order', async (t) => {
  const { exocom } = await startBus(t)
  const users = await startReceiver(t, 'users')
  const web = await startReceiver(t, 'web')
  exocom.setServices([serviceOf(users, ['users.create']), serviceOf(web, ['users.created'])])
  const events = await followEvents(t, exocom.url)
  await events.next((event) => event.type === 'hello')

  const payload = { name: 'Jean-Luc', note: 'é' }
  const sent = await send(exocom, 'users.create', { sender: 'web', id: 'req-1', payload })
  assert.equal(sent.status, 200)
  const message = (await events.next(isMessage('req-1'))) as MessageEvent
  assert.deepEqual(
    { ...message, time: undefined },
    {
      type: 'message',
      time: undefined,
      id: 'req-1',
      name: 'users.create',
      sender: 'web',
      receivers: ['users'],
      size: Buffer.byteLength(JSON.stringify(payload)),
    },
  )
  const delivered = (await events.next(isDelivery('req-1'))) as DeliveryEvent
  assert.equal(delivered.receiver, 'users')
  assert.equal(delivered.sender, 'web')
  assert.equal(delivered.name, 'users.create')
  assert.equal(delivered.outcome, 'delivered')
  assert.equal(delivered.status, 200)
  assert.equal(typeof delivered.durationMs, 'number')
  assert.ok(delivered.durationMs >= 0)
  assert.equal(delivered.error, undefined)

  await send(exocom, 'users.created', { sender: 'users', id: 'rep-1', responseTo: 'req-1' })
  const reply = (await events.next(isMessage('rep-1'))) as MessageEvent
  assert.equal(reply.responseTo, 'req-1')
  assert.equal(reply.size, 0)
  assert.deepEqual(reply.receivers, ['web'])
  const replied = (await events.next(isDelivery('rep-1'))) as DeliveryEvent
  assert.equal(replied.receiver, 'web')
  assert.equal(replied.responseTo, 'req-1')
  assert.equal(replied.outcome, 'delivered')

  // Each message before its outcome, the request before the reply, the ids counting up.
  const order = events.events
    .filter((event) => event.event !== 'hello')
    .map((event) => `${event.event} ${(event.data as { id: string }).id}`)
  assert.deepEqual(order, ['message req-1', 'delivery req-1', 'message rep-1', 'delivery rep-1'])
  const ids = events.events.map((event) => Number(event.id))
  assert.deepEqual(
    ids,
    [...ids].sort((a, b) => a - b),
  )
  assert.ok(!events.text().includes('Jean-Luc'), 'no payload without eventPreview')
})

test('namespaces: the event names the name as sent and as received', async (t) => {
  const { exocom } = await startBus(t)
  const tweets = await startReceiver(t, 'tweets')
  exocom.setServices([
    serviceOf(tweets, ['text-snippet.create'], { internalNamespace: 'text-snippets' }),
  ])
  const events = await followEvents(t, exocom.url)
  await send(exocom, 'tweets.create', { sender: 'web', id: 'ns-1' })
  const delivered = (await events.next(isDelivery('ns-1'))) as DeliveryEvent
  assert.equal(delivered.name, 'tweets.create')
  assert.equal(delivered.internalName, 'text-snippets.create')
})

test('a message nobody receives: receivers [] and one no-receiver outcome with receiver null', async (t) => {
  const { exocom } = await startBus(t)
  const events = await followEvents(t, exocom.url)
  const answer = await send(exocom, 'nobody.listens', { sender: 'web', id: 'lost-1', payload: 1 })
  assert.equal(answer.status, 404)
  const message = (await events.next(isMessage('lost-1'))) as MessageEvent
  assert.deepEqual(message.receivers, [])
  assert.equal(message.size, 1)
  const outcome = (await events.next(isDelivery('lost-1'))) as DeliveryEvent
  assert.equal(outcome.receiver, null)
  assert.equal(outcome.outcome, 'no-receiver')
  assert.equal(outcome.error?.code, ErrorCodes.NO_RECEIVER)
  assert.equal(outcome.error?.message, answer.text)
})

test('a receiver where nothing listens: unreachable, and the service dropped', async (t) => {
  const { exocom } = await startBus(t)
  const port = await freePort()
  const events = await followEvents(t, exocom.url)
  const registration = { name: 'ghost', host: '127.0.0.1', port, receives: ['ghost.haunt'] }
  assert.equal((await request(exocom, 'PUT', '/services/ghost', registration)).status, 200)
  await send(exocom, 'ghost.haunt', { sender: 'web', id: 'boo-1' })
  const outcome = (await events.next(isDelivery('boo-1'))) as DeliveryEvent
  assert.equal(outcome.outcome, 'unreachable')
  assert.equal(outcome.receiver, 'ghost')
  assert.equal(outcome.status, undefined)
  assert.match(outcome.error?.message ?? '', /ECONNREFUSED/)
  const dropped = (await events.next(
    (event) => event.type === 'service' && event.change === 'dropped',
  )) as ServiceEvent
  assert.deepEqual(
    { service: dropped.service, host: dropped.host, port: dropped.port },
    { service: 'ghost', host: '127.0.0.1', port },
  )
})

test('a receiver that answers 500 refused it, one that hangs timed out', async (t) => {
  // The failing receiver's answer must come within it too: long enough for a loaded machine.
  const { exocom } = await startBus(t, { deliveryTimeout: 1_000 })
  const failing = await startReceiver(t, 'failing', 'fail')
  const hanging = await startReceiver(t, 'hanging', 'hang')
  exocom.setServices([serviceOf(failing, ['x.fail']), serviceOf(hanging, ['x.hang'])])
  const events = await followEvents(t, exocom.url)
  await send(exocom, 'x.fail', { sender: 'web', id: 'f-1' })
  await send(exocom, 'x.hang', { sender: 'web', id: 'h-1' })
  const refused = (await events.next(isDelivery('f-1'))) as DeliveryEvent
  assert.equal(refused.outcome, 'refused')
  assert.equal(refused.status, 500)
  assert.equal(refused.error?.message, 'the handler threw')
  const timedOut = (await events.next(isDelivery('h-1'))) as DeliveryEvent
  assert.equal(timedOut.outcome, 'timeout')
  assert.match(timedOut.error?.message ?? '', /did not answer within 1000 ms/)
})

test('services registering, registering again unchanged, and withdrawing', async (t) => {
  const { exocom } = await startBus(t)
  const events = await followEvents(t, exocom.url)
  const registration = {
    name: 'users',
    instance: 'i-1',
    host: '127.0.0.1',
    port: 4001,
    receives: ['users.create'],
    sends: ['users.created'],
  }
  await request(exocom, 'PUT', '/services/users', registration)
  const registered = (await events.next((event) => event.type === 'service')) as ServiceEvent
  assert.deepEqual(
    { ...registered, time: undefined },
    {
      type: 'service',
      time: undefined,
      service: 'users',
      instance: 'i-1',
      change: 'registered',
      host: '127.0.0.1',
      port: 4001,
      receives: ['users.create'],
      sends: ['users.created'],
    },
  )
  // A relay's refresh every few seconds is no news.
  await request(exocom, 'PUT', '/services/users', registration)
  assert.equal((await request(exocom, 'DELETE', '/services/users?instance=i-1')).status, 200)
  const withdrawn = (await events.next(
    (event) => event.type === 'service' && event.change === 'withdrawn',
  )) as ServiceEvent
  assert.equal(withdrawn.service, 'users')
  assert.equal(withdrawn.instance, 'i-1')
  const changes = events.events
    .filter((event) => event.event === 'service')
    .map((event) => (event.data as ServiceEvent).change)
  assert.deepEqual(changes, ['registered', 'withdrawn'])
})

test("an operator's table: its services registered, the ones it leaves out withdrawn", async (t) => {
  const { exocom } = await startBus(t, {
    services: [{ name: 'old', host: '127.0.0.1', port: 4009, receives: ['old.x'] }],
  })
  const events = await followEvents(t, exocom.url)
  const table = [{ name: 'new', host: '127.0.0.1', port: 4010, receives: ['new.x'] }]
  assert.equal((await request(exocom, 'POST', '/services', table)).status, 200)
  await events.next((event) => event.type === 'service' && event.service === 'new')
  const changes = events.events
    .filter((event) => event.event === 'service')
    .map(
      (event) => `${(event.data as ServiceEvent).change} ${(event.data as ServiceEvent).service}`,
    )
  assert.deepEqual(changes, ['withdrawn old', 'registered new'])
})

test('eventPreview shows the start of the payload, cut between characters', async (t) => {
  const { exocom } = await startBus(t, { eventPreview: 12 })
  const users = await startReceiver(t, 'users')
  exocom.setServices([serviceOf(users, ['users.create'])])
  const events = await followEvents(t, exocom.url)
  await send(exocom, 'users.create', { sender: 'web', id: 'p-1', payload: { name: 'Jean-Luc' } })
  await send(exocom, 'users.create', { sender: 'web', id: 'p-2', payload: 'short' })
  await send(exocom, 'users.create', { sender: 'web', id: 'p-3' })
  const long = (await events.next(isMessage('p-1'))) as MessageEvent
  assert.equal(long.preview, '{"name":"Jea…')
  assert.equal(long.size, 19)
  const short = (await events.next(isMessage('p-2'))) as MessageEvent
  assert.equal(short.preview, '"short"')
  const none = (await events.next(isMessage('p-3'))) as MessageEvent
  assert.equal(none.preview, undefined)
})

test('a preview never halves a character', () => {
  // 'é' is two bytes: the third does not fit in 4 bytes after the quote.
  assert.equal(preview('"ééé"', 4), '"é…')
  assert.equal(preview('"ééé"', 8), '"ééé"')
  assert.equal(preview('"😀"', 3), '"…')
})

test('with no client the stream builds nothing: it reads none of what it is given', () => {
  const stream = new EventStream({
    logger: new RecordingLogger(),
    buffer: 1,
    maxClients: 1,
    preview: 100,
  })
  // Any property read throws: an event being built would read the message first.
  const untouchable = new Proxy(
    {},
    {
      get() {
        throw new Error('the stream read a message nobody follows')
      },
    },
  ) as never
  assert.equal(stream.watched, false)
  stream.message(untouchable, untouchable, untouchable)
  stream.unrouted(untouchable, untouchable, 'no receiver')
  stream.delivery(untouchable, untouchable, 'delivered', 200)
  stream.service('registered', untouchable)
})

test('an idle stream gets a keep-alive comment', async (t) => {
  const app = Fastify({ logger: false })
  const stream = new EventStream({
    logger: new RecordingLogger(),
    buffer: 1024,
    maxClients: 1,
    preview: 0,
    keepAlive: 20,
  })
  stream.addRoute(app, () => false)
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.after(async () => {
    stream.close()
    await app.close()
  })
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const events = await followEvents(t, url)
  await events.next((event) => event.type === 'hello')
  await events.comment('keep-alive')
  assert.match(events.text(), /\n: keep-alive\n\n/)
})
