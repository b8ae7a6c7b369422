import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect } from 'node:net'
import { test } from 'node:test'
import { ErrorCodes } from '@exorelay/core'
import { withDeadline } from '@exorelay/testing'
import type { MessageEvent } from '../src/bus-events.js'
import { run, startOnline } from './cli-helpers.js'
import { type EventClient, followEvents } from './events-client.js'
import { request, send, serviceOf, startBus, startReceiver } from './helpers.js'

// What the event stream refuses, and what it never lets a client do: read without the token,
// hold the bus up by not reading, outnumber the limit, outlive the bus.

const TOKEN = 'events-s3cret-token'

test('with a token, GET /events needs it, and the stream never shows it', async (t) => {
  const { exocom } = await startBus(t, { token: TOKEN })
  const users = await startReceiver(t, 'users')
  const auth = { authorization: `Bearer ${TOKEN}` }
  for (const headers of [{}, { authorization: 'Bearer another-token' }]) {
    const refused = await request(exocom, 'GET', '/events', undefined, undefined, headers)
    assert.equal(refused.status, 401)
    assert.equal(refused.code, ErrorCodes.UNAUTHORIZED)
  }
  const events = await followEvents(t, exocom.url, auth)
  assert.equal(events.status, 200)
  const registration = serviceOf(users, ['users.create'])
  assert.equal(
    (await request(exocom, 'PUT', '/services/users', registration, undefined, auth)).status,
    200,
  )
  await send(exocom, 'users.create', { sender: 'web', id: 't-1', payload: 1 }, auth.authorization)
  await events.next((event) => event.type === 'delivery' && event.id === 't-1')
  assert.ok(!events.text().includes(TOKEN))
})

test("in identity mode the stream is the operator's", async (t) => {
  const credentials = { operator: 'operator-token-1', services: { web: 'web-token-1' } }
  const { exocom } = await startBus(t, { credentials })
  const asWeb = { authorization: 'Bearer web-token-1' }
  const forbidden = await request(exocom, 'GET', '/events', undefined, undefined, asWeb)
  assert.equal(forbidden.status, 403)
  assert.equal(forbidden.code, ErrorCodes.FORBIDDEN)
  assert.match(forbidden.text, /Only the operator's credential may follow the event stream/)
  const events = await followEvents(t, exocom.url, { authorization: 'Bearer operator-token-1' })
  assert.equal(events.status, 200)
  // The bus takes the sender from web's token; the stream shows the name, never the token.
  await send(exocom, 'nobody.listens', { id: 'i-1' }, asWeb.authorization)
  const message = (await events.next(
    (event) => event.type === 'message' && event.id === 'i-1',
  )) as MessageEvent
  assert.equal(message.sender, 'web')
  assert.ok(!events.text().includes('web-token-1'))
  assert.ok(!events.text().includes('operator-token-1'))
})

test('events: false leaves the route out', async (t) => {
  const { exocom } = await startBus(t, { events: false })
  const answer = await request(exocom, 'GET', '/events')
  assert.equal(answer.status, 404)
  assert.equal(answer.code, ErrorCodes.BUS_NO_ROUTE)
})

test('a client that stops reading is dropped past its buffer, and the others get every event', async (t) => {
  const eventsBuffer = 64 * 1024
  const { exocom, log } = await startBus(t, { eventsBuffer, eventPreview: 64 * 1024 })
  const users = await startReceiver(t, 'users')
  exocom.setServices([serviceOf(users, ['users.create'])])

  // A client that reads the answer's head, then nothing more: the kernel's buffers fill, then
  // the bus's.
  const stalled = connect({ host: '127.0.0.1', port: exocom.port })
  t.after(() => stalled.destroy())
  stalled.write(`GET /events HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`)
  const [head] = (await withDeadline(once(stalled, 'data'), 10_000, () => 'no answer')) as [Buffer]
  assert.match(head.toString(), /^HTTP\/1\.1 200/)
  stalled.pause()
  const reader = await followEvents(t, exocom.url)

  const payload = 'x'.repeat(60 * 1024)
  const isDrop = (entry: { level: string; message: string | undefined }) =>
    entry.level === 'warn' && (entry.message ?? '').startsWith('event stream client')
  // However much the kernel holds: the bus keeps sending until the client is past its buffer.
  let sent = 0
  while (!log.entries.some(isDrop)) {
    assert.ok(sent < 2000, 'the stalled client was not dropped after 2,000 large events')
    const answer = await send(exocom, 'users.create', { sender: 'web', id: `s-${sent}`, payload })
    assert.equal(answer.status, 200)
    sent++
  }
  const drops = log.entries.filter(isDrop)
  assert.equal(drops.length, 1)
  assert.equal(drops[0]?.fields.eventsBuffer, eventsBuffer)
  assert.ok(Number(drops[0]?.fields.unsent) > eventsBuffer)

  // The bus went on for everyone else: every message delivered, every event to the reader.
  await users.waitForRuns(sent)
  await reader.next((event) => event.type === 'delivery' && event.id === `s-${sent - 1}`, 20_000)
  const seen = reader.events.filter((event) => event.event === 'message').length
  assert.equal(seen, sent)
  // The stalled client's stream is over: read on, and its connection ends.
  stalled.resume()
  await withDeadline(once(stalled, 'close'), 10_000, () => 'the dropped connection did not end')
})

test('the 101st client is refused with 503 and a code', async (t) => {
  const { exocom, log } = await startBus(t)
  const clients: EventClient[] = []
  for (let index = 0; index < 100; index++) clients.push(await followEvents(t, exocom.url))
  assert.ok(clients.every((client) => client.status === 200))
  await Promise.all(clients.map((client) => client.next((event) => event.type === 'hello')))
  const refused = await request(exocom, 'GET', '/events')
  assert.equal(refused.status, 503)
  assert.equal(refused.code, ErrorCodes.BUS_TOO_MANY_EVENT_CLIENTS)
  assert.match(refused.text, /100 clients .* maxEventClients/)
  assert.equal(log.at('warn').length, 1)
  // Those connected still get every event.
  await send(exocom, 'nobody.listens', { sender: 'web', id: 'm-100' })
  await Promise.all(
    clients.map((client) =>
      client.next((event) => event.type === 'message' && event.id === 'm-100'),
    ),
  )
})

test('close() ends every stream at once, without waiting for the deliveries in flight', async (t) => {
  const { exocom } = await startBus(t, { deliveryTimeout: 10_000 })
  const hanging = await startReceiver(t, 'hanging', 'hang')
  exocom.setServices([serviceOf(hanging, ['x.hang'])])
  const first = await followEvents(t, exocom.url)
  const second = await followEvents(t, exocom.url)
  await send(exocom, 'x.hang', { sender: 'web', id: 'h-1' })
  await hanging.waitForRuns(1)
  const closed = exocom.close()
  await Promise.all([first.ended(), second.ended()])
  // Still closing (the delivery hangs): a new client is refused as a sender would be.
  const late = await request(exocom, 'GET', '/events')
  assert.equal(late.status, 503)
  assert.equal(late.code, ErrorCodes.BUS_CLOSING)
  hanging.release()
  await withDeadline(closed, 10_000, () => 'close() did not resolve')
})

test('exocom --event-preview <bytes> shows payloads; --no-events leaves the route out', async (t) => {
  const previewing = await startOnline(t, ['--event-preview', '4'])
  const events = await followEvents(t, previewing.url)
  const sent = await fetch(`${previewing.url}/send/a.b`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sender: 'web', id: 'c-1', payload: 'abcdef' }),
    signal: AbortSignal.timeout(10_000),
  })
  assert.equal(sent.status, 404)
  const message = (await events.next((event) => event.type === 'message')) as MessageEvent
  assert.equal(message.preview, '"abc…')
  await previewing.stop()

  const silent = await startOnline(t, ['--no-events'])
  const answer = await fetch(`${silent.url}/events`, { signal: AbortSignal.timeout(10_000) })
  assert.equal(answer.status, 404)
  await answer.body?.cancel()
  await silent.stop()
})

test('exocom --event-preview with no number of bytes is a usage error', async () => {
  for (const value of ['abc', '-1', '1.5', '']) {
    const { code, stderr } = await run(['--port', '0', `--event-preview=${value}`])
    assert.equal(code, 2)
    assert.match(stderr, /^exocom: --event-preview must be a number of bytes, 0 or more, got '/)
  }
})
