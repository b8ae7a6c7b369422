import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { createEnvelope } from '../src/envelope.js'
import { ErrorCodes, ProtocolError, TransportError } from '../src/errors.js'
import { MemoryBus } from '../src/memory-transport.js'
import type { ReceivedMessage } from '../src/message-map.js'
import { Relay } from '../src/relay.js'
import type { RelayStatus } from '../src/relay-types.js'
import type { Endpoint, Receipt, Transport } from '../src/transport.js'

const SEND = { timeout: 1000 }
const idleStatus = (): RelayStatus => ({
  state: 'online',
  pendingReplies: 0,
  runningHandlers: 0,
  queuedMessages: 0,
  bus: 'reachable',
  registered: true,
})

// A listening memory transport keeps the process alive, like a socket: close every one.
const open: Transport[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((transport) => transport.close()))
})

interface Service {
  transport: Transport
  received: ReceivedMessage[]
  handles: string[]
}

/** A transport listening as `serviceName`, recording what it receives. */
async function service(
  bus: MemoryBus,
  serviceName: string,
  handles: string[],
  receipt: Receipt = { status: 'accepted' },
): Promise<Service> {
  const transport = bus.transport()
  open.push(transport)
  const received: ReceivedMessage[] = []
  const endpoint: Endpoint = {
    serviceName,
    receive: (message) => {
      received.push(message)
      return receipt
    },
    handledNames: () => handles,
    status: idleStatus,
  }
  assert.deepEqual(await transport.listen(endpoint), { port: 0 })
  return { transport, received, handles }
}

test('a message reaches the service that handles its name, without its name in the body', async () => {
  const bus = new MemoryBus()
  const web = await service(bus, 'web', [])
  const users = await service(bus, 'users', ['users.create'])
  const envelope = createEnvelope('users.create', 'web', { name: 'Will' })
  await web.transport.send(envelope, SEND)
  assert.deepEqual(users.received, [
    { name: 'users.create', id: envelope.id, sender: 'web', payload: { name: 'Will' } },
  ])
  assert.deepEqual(web.received, [])
  assert.deepEqual(bus.deliveries, [
    { message: users.received[0], receiver: 'users', receipt: { status: 'accepted' } },
  ])
})

test('a message goes to every service that handles its name', async () => {
  const bus = new MemoryBus()
  const web = await service(bus, 'web', [])
  const audit = await service(bus, 'audit', ['users.create'])
  const users = await service(bus, 'users', ['users.create'])
  await web.transport.send(createEnvelope('users.create', 'web', 1), SEND)
  assert.equal(audit.received.length, 1)
  assert.equal(users.received.length, 1)
  assert.deepEqual(bus.deliveries.map((d) => d.receiver).sort(), ['audit', 'users'])
})

test('a reply also reaches the service that sent the request, exactly once', async () => {
  const bus = new MemoryBus()
  // web handles users.created too: it must still get the reply once, not twice.
  const web = await service(bus, 'web', ['users.created'])
  const users = await service(bus, 'users', ['users.create'])
  const request = createEnvelope('users.create', 'web', 1)
  await web.transport.send(request, SEND)
  const reply = createEnvelope('users.created', 'users', 2, request.id)
  await users.transport.send(reply, SEND)
  assert.deepEqual(web.received, [
    { name: 'users.created', id: reply.id, sender: 'users', payload: 2, responseTo: request.id },
  ])
  assert.equal(users.received.length, 1)
})

test('a reply reaches a requester that does not handle the outcome name', async () => {
  const bus = new MemoryBus()
  const web = await service(bus, 'web', [])
  const users = await service(bus, 'users', ['users.create'])
  const request = createEnvelope('users.create', 'web', 1)
  await web.transport.send(request, SEND)
  await users.transport.send(createEnvelope('users.created', 'users', 2, request.id), SEND)
  assert.deepEqual(
    web.received.map((m) => m.name),
    ['users.created'],
  )
})

test('a message nobody receives is rejected with a TransportError coded NO_RECEIVER', async () => {
  const bus = new MemoryBus()
  const web = await service(bus, 'web', ['hello'])
  await assert.rejects(
    web.transport.send(createEnvelope('zonk', 'web', 1), SEND),
    (error: unknown) =>
      error instanceof TransportError &&
      error.code === ErrorCodes.NO_RECEIVER &&
      error.status === 404 &&
      error.message.includes("'zonk'"),
  )
  assert.deepEqual(bus.deliveries, [])
})

test('a reply whose requester is unknown and whose name nobody handles is rejected NO_RECEIVER', async () => {
  const bus = new MemoryBus()
  const users = await service(bus, 'users', ['users.create'])
  const orphan = createEnvelope('users.created', 'users', 1, 'never-sent')
  await assert.rejects(users.transport.send(orphan, SEND), { code: ErrorCodes.NO_RECEIVER })
})

test('messages are copied through JSON on the way, as the wire copies them', async () => {
  const bus = new MemoryBus()
  const web = await service(bus, 'web', [])
  const users = await service(bus, 'users', ['users.create'])
  const payload = { when: new Date(0), skip: undefined, list: [1, undefined], nested: { a: 1 } }
  await web.transport.send(createEnvelope('users.create', 'web', payload), SEND)
  const received = users.received[0]?.payload
  assert.deepEqual(received, {
    when: '1970-01-01T00:00:00.000Z',
    list: [1, null],
    nested: { a: 1 },
  })
  assert.notEqual((received as { nested: object }).nested, payload.nested)
})

test('a message without payload arrives without a payload key', async () => {
  const bus = new MemoryBus()
  const web = await service(bus, 'web', [])
  const users = await service(bus, 'users', ['hello'])
  await web.transport.send(createEnvelope('hello', 'web', undefined), SEND)
  assert.equal(Object.hasOwn(users.received[0] ?? {}, 'payload'), false)
})

test('delivery happens on a later turn of the event loop, not inside send', async () => {
  const bus = new MemoryBus()
  const web = await service(bus, 'web', [])
  const users = await service(bus, 'users', ['hello'])
  const sending = web.transport.send(createEnvelope('hello', 'web', 1), SEND)
  assert.equal(users.received.length, 0)
  await sending
  assert.equal(users.received.length, 1)
})

test("the receiver's receipt is recorded with the delivery", async () => {
  const bus = new MemoryBus()
  const web = await service(bus, 'web', [])
  const receipt: Receipt = {
    status: 'unknown',
    error: new ProtocolError(ErrorCodes.UNKNOWN_MESSAGE, "unknown message: 'hello'"),
  }
  await service(bus, 'users', ['hello'], receipt)
  await web.transport.send(createEnvelope('hello', 'web', 1), SEND)
  assert.equal(bus.deliveries[0]?.receipt, receipt)
})

test('names handled are read at delivery time, so handlers added after listen receive', async () => {
  const bus = new MemoryBus()
  const web = await service(bus, 'web', [])
  const users = await service(bus, 'users', [])
  users.handles.push('hello')
  await web.transport.send(createEnvelope('hello', 'web', 1), SEND)
  assert.equal(users.received.length, 1)
})

test('a closed transport receives nothing more and cannot listen again', async () => {
  const bus = new MemoryBus()
  const web = await service(bus, 'web', [])
  const users = await service(bus, 'users', ['hello'])
  await users.transport.close()
  await assert.rejects(web.transport.send(createEnvelope('hello', 'web', 1), SEND), {
    code: ErrorCodes.NO_RECEIVER,
  })
  assert.equal(users.received.length, 0)
  await assert.rejects(
    users.transport.listen({
      serviceName: 'users',
      receive: () => ({ status: 'accepted' }),
      handledNames: () => [],
      status: idleStatus,
    }),
    { name: 'ListenError', code: ErrorCodes.LISTEN_FAILED },
  )
})

test('a transport that does not listen receives nothing', async () => {
  const bus = new MemoryBus()
  const web = await service(bus, 'web', [])
  bus.transport()
  await assert.rejects(web.transport.send(createEnvelope('hello', 'web', 1), SEND), {
    code: ErrorCodes.NO_RECEIVER,
  })
})

test("a send with an aborted signal rejects with the signal's reason and delivers nothing", async () => {
  const bus = new MemoryBus()
  const web = await service(bus, 'web', [])
  const users = await service(bus, 'users', ['hello'])
  const reason = new Error('gave up')
  const signal = AbortSignal.abort(reason)
  await assert.rejects(
    web.transport.send(createEnvelope('hello', 'web', 1), { timeout: 1000, signal }),
    (error: unknown) => error === reason,
  )
  assert.equal(users.received.length, 0)
})

test('separate buses do not see each other', async () => {
  const one = new MemoryBus()
  const other = new MemoryBus()
  const web = await service(one, 'web', [])
  const users = await service(other, 'users', ['hello'])
  await assert.rejects(web.transport.send(createEnvelope('hello', 'web', 1), SEND), {
    code: ErrorCodes.NO_RECEIVER,
  })
  assert.equal(users.received.length, 0)
})

test('replies find their requester among the last 10,000 messages, and ids older than 20,000 are forgotten', async () => {
  const bus = new MemoryBus()
  const web = await service(bus, 'web', [])
  const admin = await service(bus, 'admin', [])
  await service(bus, 'users', ['users.ping'])
  const ids: string[] = []
  for (let i = 0; i < 20_001; i++) {
    const envelope = createEnvelope('users.ping', i === 0 ? 'admin' : 'web', i)
    ids.push(envelope.id)
    await (i === 0 ? admin : web).transport.send(envelope, SEND)
  }
  // The 10,000 most recent ids, and those of the generation before them, route their replies.
  await web.transport.send(createEnvelope('users.pong', 'users', 1, ids[12_000]), SEND)
  assert.equal(web.received.length, 1)
  // The first id is 20,001 messages old: its reply goes nowhere.
  await assert.rejects(web.transport.send(createEnvelope('users.pong', 'users', 1, ids[0]), SEND), {
    code: ErrorCodes.NO_RECEIVER,
  })
  assert.equal(admin.received.length, 0)
})

test("a relay's status over the memory bus: reachable, and routed to while it listens", async () => {
  const relay = new Relay({ serviceName: 'users', transport: new MemoryBus().transport() })
  assert.deepEqual([relay.status().bus, relay.status().registered], ['reachable', false])
  await relay.listen()
  assert.deepEqual([relay.status().bus, relay.status().registered], ['reachable', true])
  await relay.close()
  assert.deepEqual([relay.status().bus, relay.status().registered], ['reachable', false])
})

test('a transport without busStatus() leaves the bus unknown and the relay unregistered', () => {
  const transport: Transport = {
    listen: async () => ({ port: 0 }),
    send: async () => {},
    close: async () => {},
  }
  const relay = new Relay({ serviceName: 'users', transport })
  assert.deepEqual([relay.status().bus, relay.status().registered], ['unknown', false])
})
