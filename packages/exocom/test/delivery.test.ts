import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type TestContext, test } from 'node:test'
import { MAX_BATCH_BYTES, MAX_BATCH_MESSAGES, runPath } from '@exorelay/http-protocol'
import { RecordingLogger } from '@exorelay/testing'
import {
  busyText,
  DEFAULT_MAX_PENDING,
  DEFAULT_MAX_PENDING_BYTES,
  Deliverer,
  type DeliveryOptions,
  type RoutedMessage,
} from '../src/delivery.js'
import { EventStream } from '../src/event-stream.js'
import { type Delivery, originOf, type Receiver } from '../src/routing-table.js'
import { startReceiver } from './helpers.js'

function startDeliverer(
  t: TestContext,
  timeout = 5000,
  options: Partial<Omit<DeliveryOptions, 'timeout' | 'logger'>> = {},
) {
  const log = new RecordingLogger()
  // Nobody follows the event stream: the deliverer tells it nothing.
  const events = new EventStream({ logger: log, buffer: 1, maxClients: 1, preview: 0 })
  const deliverer = new Deliverer({ timeout, logger: log, events, ...options })
  t.after(() => deliverer.close())
  return { deliverer, log }
}

/** A delivery and its message, as the bus's route handler hands them to the deliverer. */
function job(
  where: Omit<Receiver, 'source'>,
  internalName: string,
  publicName: string,
  id = 'd-1',
): [Delivery, RoutedMessage] {
  const receiver: Receiver = { ...where, source: 'configured' }
  const body = JSON.stringify({ id, payload: [1], responseTo: 'r-1' })
  return [
    { service: receiver, internalName, origin: originOf(receiver), path: runPath(internalName) },
    { publicName, sender: 'web', id, responseTo: 'r-1', body, receivers: 1, accepted: 0 },
  ]
}

function jobFor(port: number, id = 'd-1'): [Delivery, RoutedMessage] {
  return job({ name: 'users', host: '127.0.0.1', port }, 'users.create', 'users.create', id)
}

test('a delivery posts the body without sender to /run/<internal name> and logs the console line', async (t) => {
  const tweets = await startReceiver(t, 'tweets')
  const { deliverer, log } = startDeliverer(t)

  deliverer.deliver(
    ...job(
      { name: 'tweets', host: '127.0.0.1', port: tweets.port, internalNamespace: 'text-snippets' },
      'text-snippets.create',
      'tweets.create',
    ),
  )
  await deliverer.idle()

  const [run] = tweets.runs
  assert.equal(run?.url, '/run/text-snippets.create')
  assert.deepEqual(run?.body, { id: 'd-1', payload: [1], responseTo: 'r-1' })
  const [entry] = log.at('info')
  assert.equal(entry?.message, 'web  --[ tweets.create ]-[ text-snippets.create ]->  tweets')
  assert.deepEqual(entry?.fields, {
    sender: 'web',
    receiver: 'tweets',
    messageName: 'tweets.create',
    internalName: 'text-snippets.create',
    messageId: 'd-1',
    responseTo: 'r-1',
  })
})

test('deliveries to one receiver reuse keep-alive connections', async (t) => {
  const users = await startReceiver(t, 'users')
  const { deliverer } = startDeliverer(t)
  for (let i = 0; i < 6; i++) {
    deliverer.deliver(...jobFor(users.port))
    await deliverer.idle()
  }

  assert.equal(users.runs.length, 6)
  const connections = new Set(users.runs.map((run) => run.remotePort))
  assert.ok(connections.size < 6, `${connections.size} connections for 6 sequential deliveries`)
})

test('a receiver that answers non-2xx is a warning with its status and text, never a rejection', async (t) => {
  const broken = await startReceiver(t, 'broken', 'fail')
  const { deliverer, log } = startDeliverer(t)

  deliverer.deliver(
    ...job({ name: 'broken', host: '127.0.0.1', port: broken.port }, 'broken.ping', 'broken.ping'),
  )
  await deliverer.idle()

  const [warning] = log.at('warn')
  assert.equal(warning?.fields.status, 500)
  assert.equal(warning?.fields.response, 'the handler threw')
  assert.equal(log.at('info').length, 0)
})

test('close() waits for a delivery in flight to finish before it resolves', async (t) => {
  const slow = await startReceiver(t, 'slow', 'hang')
  const { deliverer, log } = startDeliverer(t, 100)

  deliverer.deliver(
    ...job({ name: 'slow', host: '127.0.0.1', port: slow.port }, 'slow.ping', 'slow.ping'),
  )
  await slow.waitForRuns(1)
  let settled = false
  void deliverer.idle().then(() => {
    settled = true
  })
  await deliverer.close()

  assert.equal(settled, true)
  assert.ok(log.at('warn')[0]?.fields.err instanceof Error)
})

test('a delivery after close is not attempted, only logged', async (t) => {
  const users = await startReceiver(t, 'users')
  const { deliverer, log } = startDeliverer(t)
  await deliverer.close()

  deliverer.deliver(...jobFor(users.port))
  await deliverer.idle()

  assert.equal(users.runs.length, 0)
  assert.match(log.at('warn')[0]?.message ?? '', /closing/)
})

test('a delivery carries the shared secret when one is given, and none otherwise', async (t) => {
  const users = await startReceiver(t, 'users')
  const withToken = startDeliverer(t, 5000, { token: 'delivery-token' }).deliverer
  const without = startDeliverer(t).deliverer

  withToken.deliver(...jobFor(users.port, 'with'))
  await withToken.idle()
  without.deliver(...jobFor(users.port, 'without'))
  await without.idle()

  assert.deepEqual(
    users.runs.map((run) => run.headers.authorization),
    ['Bearer delivery-token', undefined],
  )
})

test('200 deliveries to a receiver that is down all settle with a warning, on one bounded pool', async (t) => {
  const down = await startReceiver(t, 'down')
  await down.close()
  const { deliverer, log } = startDeliverer(t)

  for (let index = 0; index < 200; index++) deliverer.deliver(...jobFor(down.port, `down-${index}`))
  const during = deliverer.stats()
  await deliverer.idle()

  assert.equal(during.pools, 1)
  assert.equal(during.pending, 200)
  assert.equal(log.at('warn').length, 200)
  assert.deepEqual(deliverer.stats(), { pools: 1, pending: 0, connections: 0 })
})

test('a hanging receiver is busy at maxPending deliveries; none is dropped, and it has room again once they end', async (t) => {
  const slow = await startReceiver(t, 'slow', 'hang')
  const users = await startReceiver(t, 'users')
  const { deliverer, log } = startDeliverer(t, 5000, { maxPending: 3 })
  assert.equal(DEFAULT_MAX_PENDING, 10_000)

  for (const n of [1, 2, 3]) {
    const [delivery, message] = jobFor(slow.port, `held-${n}`)
    assert.equal(deliverer.busy([delivery], message.body.length), undefined)
    deliverer.deliver(delivery, message)
  }
  const [toSlow, fourth] = jobFor(slow.port, 'fourth')
  const [toUsers] = jobFor(users.port, 'elsewhere')
  const busy = deliverer.busy([toUsers, toSlow], fourth.body.length)
  assert.equal(busy?.delivery, toSlow)
  assert.equal(busy?.pending, 3)
  assert.equal(busy?.limit, 'maxPending')
  assert.equal(busy?.max, 3)
  assert.match(
    busyText(busy!, { ...fourth, receivers: 2 }),
    /^ExoCom did not accept the message 'users\.create': its receiver 'users' has 3 messages under way, as many as ExoCom holds for one receiver \(maxPending 3\)\. Nothing was delivered to any of its 2 receivers\. The receiver is slow or hung: .* raise ExoCom's maxPending if the receiver keeps up with more\. Send it again later\.$/,
  )
  // Another receiver has room; and a delivery handed over anyway (as liveness hands one on) is
  // never dropped: the limits are the bus's check before it accepts, not the deliverer's.
  assert.equal(deliverer.busy([toUsers], fourth.body.length), undefined)
  deliverer.deliver(toSlow, fourth)
  await slow.waitForRuns(4)
  slow.release()
  await deliverer.idle()
  assert.equal(deliverer.busy([toSlow], fourth.body.length), undefined)
  assert.deepEqual(slow.runs.map((run) => (run.body as { id: string }).id).sort(), [
    'fourth',
    'held-1',
    'held-2',
    'held-3',
  ])
  assert.equal(log.at('warn').length, 0)
  assert.equal(log.at('info').length, 4)
})

test('maxPendingBytes bounds the bodies under way to one receiver; a first message of any size goes', async (t) => {
  const slow = await startReceiver(t, 'slow', 'hang')
  const { deliverer } = startDeliverer(t, 5000, { maxPendingBytes: 100 })
  assert.equal(DEFAULT_MAX_PENDING_BYTES, 64 * 1024 * 1024)
  const [delivery, message] = jobFor(slow.port, 'first')
  assert.ok(message.body.length > 40 && message.body.length < 50, `${message.body.length}`)

  // Nothing under way: even a body over the budget is taken (bodyLimit bounds it).
  assert.equal(deliverer.busy([delivery], 1000), undefined)
  deliverer.deliver(delivery, message)
  const [, second] = jobFor(slow.port, 'second')
  assert.equal(deliverer.busy([delivery], second.body.length), undefined)
  deliverer.deliver(delivery, second)
  const busy = deliverer.busy([delivery], second.body.length)
  assert.equal(busy?.limit, 'maxPendingBytes')
  assert.equal(busy?.pending, 2)
  assert.equal(busy?.pendingBytes, message.body.length + second.body.length)
  assert.match(
    busyText(busy!, second),
    /its receiver 'users' has 2 messages with \d+ bytes of bodies under way, and this one's \d+ bytes would pass what ExoCom holds for one receiver \(maxPendingBytes 100\)\. Nothing was delivered\. /,
  )
  await slow.waitForRuns(2)
  slow.release()
  await deliverer.idle()
  assert.equal(deliverer.busy([delivery], second.body.length), undefined)
})

test('a receiver that trickles its answer is cut off at the timeout, as a whole', async (t) => {
  // Each byte comes well within the timeout, so only a deadline for the whole delivery ends it.
  const timers = new Set<NodeJS.Timeout>()
  const server = createServer((_request, res) => {
    res.writeHead(500, { 'content-type': 'text/plain' })
    const timer = setInterval(() => res.write('.'), 20)
    timers.add(timer)
    res.on('close', () => clearInterval(timer))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    for (const timer of timers) clearInterval(timer)
    server.closeAllConnections()
    server.close()
  })
  const { deliverer, log } = startDeliverer(t, 150)

  deliverer.deliver(...jobFor((server.address() as AddressInfo).port, 'trickle'))
  await deliverer.idle()

  const [warning] = log.at('warn')
  assert.equal(warning?.fields.messageId, 'trickle')
  assert.match(warning?.message ?? '', /did not answer within 150 ms/)
  assert.deepEqual(deliverer.stats().pending, 0)
})

/** A message of about `size` bytes to a receiver that takes batches. */
function batchJob(port: number, id: string, size = 0): [Delivery, RoutedMessage] {
  const service: Receiver = {
    name: 'users',
    host: '127.0.0.1',
    port,
    batches: true,
    source: 'configured',
  }
  const body = JSON.stringify(size === 0 ? { id } : { id, payload: 'x'.repeat(size) })
  return [
    {
      service,
      internalName: 'users.create',
      origin: originOf(service),
      path: runPath('users.create'),
    },
    {
      publicName: 'users.create',
      sender: 'web',
      id,
      responseTo: undefined,
      body,
      receivers: 1,
      accepted: 0,
    },
  ]
}

/** Sizes of the requests after the first: batch lengths, or 1 for the single route. */
function sizesAfterFirst(runs: readonly { url: string; body: unknown }[]): number[] {
  return runs.slice(1).map((run) => (Array.isArray(run.body) ? run.body.length : 1))
}

test('a batch holds at most MAX_BATCH_MESSAGES messages; the rest waits for the next', async (t) => {
  let count = 0
  const users = await startReceiver(t, 'users', () => (++count === 1 ? 'hang' : 'ok'))
  const { deliverer, log } = startDeliverer(t, 5000, { batchAfter: 1 })

  deliverer.deliver(...batchJob(users.port, 'first'))
  await users.waitForRuns(1)
  for (let index = 0; index < MAX_BATCH_MESSAGES + 44; index++) {
    deliverer.deliver(...batchJob(users.port, `m-${index}`))
  }
  users.release()
  await deliverer.idle()

  assert.deepEqual(sizesAfterFirst(users.runs), [MAX_BATCH_MESSAGES, 44])
  assert.deepEqual(
    (users.runs[2]!.body as Array<{ id: string }>).map((entry) => entry.id).slice(0, 2),
    [`m-${MAX_BATCH_MESSAGES}`, `m-${MAX_BATCH_MESSAGES + 1}`],
  )
  assert.equal(log.at('info').length, MAX_BATCH_MESSAGES + 45)
})

test('a batch stops before MAX_BATCH_BYTES, and a message too large for one goes alone', async (t) => {
  let count = 0
  const users = await startReceiver(t, 'users', () => (++count === 1 ? 'hang' : 'ok'))
  const { deliverer, log } = startDeliverer(t, 5000, { batchAfter: 1 })
  const size = Math.floor(MAX_BATCH_BYTES / 2.5)

  deliverer.deliver(...batchJob(users.port, 'first'))
  await users.waitForRuns(1)
  deliverer.deliver(...batchJob(users.port, 'huge', MAX_BATCH_BYTES))
  for (let index = 0; index < 5; index++) {
    deliverer.deliver(...batchJob(users.port, `m-${index}`, size))
  }
  users.release()
  await deliverer.idle()

  assert.deepEqual(sizesAfterFirst(users.runs), [1, 2, 2, 1])
  assert.equal(users.runs[1]?.url, '/run/users.create')
  assert.equal(log.at('info').length, 7)
  assert.equal(log.at('warn').length, 0)
})

test('maxPending counts the messages waiting for a batch with those in flight', async (t) => {
  const users = await startReceiver(t, 'users', 'hang')
  const { deliverer, log } = startDeliverer(t, 5000, { batchAfter: 1, maxPending: 3 })

  for (const id of ['in-flight', 'queued-1', 'queued-2']) {
    const [delivery, message] = batchJob(users.port, id)
    assert.equal(deliverer.busy([delivery], message.body.length), undefined, id)
    deliverer.deliver(delivery, message)
  }
  const [delivery, message] = batchJob(users.port, 'refused')
  assert.equal(deliverer.busy([delivery], message.body.length)?.pending, 3)
  assert.equal(deliverer.stats().pending, 3)
  await users.waitForRuns(1)
  users.release()
  await users.waitForRuns(2)
  users.release()
  await deliverer.idle()
  assert.deepEqual(
    users.runs.map((run) => run.url),
    ['/run/users.create', '/run'],
  )
  // Every message ended, in flight and in the batch alike: nothing counts any more.
  assert.equal(deliverer.busy([delivery], 10_000_000), undefined)
  assert.equal(log.at('warn').length, 0)
})

test('a receiver the bus cannot address fails its own delivery, logged, and the others go on', async (t) => {
  const users = await startReceiver(t, 'users')
  const { deliverer, log } = startDeliverer(t)
  // What a registration could carry before hosts were checked: undici refuses the origin.
  const [broken, message] = job(
    { name: 'reports', host: 'a b', port: 4000 },
    'orders.create',
    'orders.create',
  )

  assert.doesNotThrow(() => deliverer.deliver({ ...broken, origin: 'http://a b:4000' }, message))
  deliverer.deliver(...jobFor(users.port))
  await users.waitForRuns(1)
  await deliverer.idle()

  const [warning] = log.at('warn')
  assert.match(
    warning?.message ?? '',
    /^not delivered: web {2}--\[ orders\.create \]-> {2}reports: ExoCom could not start the delivery \(EXORELAY_ERR_BUS_FAILED\)/,
  )
  assert.equal(deliverer.stats().pending, 0)
})
