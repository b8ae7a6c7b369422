import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Envelope } from '@exorelay/core'
import { Deliverer } from '../src/delivery.js'
import { startReceiver, TestLogger } from './helpers.js'

function startDeliverer(t: import('node:test').TestContext, timeout = 5000) {
  const log = new TestLogger()
  const deliverer = new Deliverer({ timeout, logger: log })
  t.after(() => deliverer.close())
  return { deliverer, log }
}

const envelope: Envelope = {
  name: 'users.create',
  id: 'd-1',
  sender: 'web',
  payload: [1],
  responseTo: 'r-1',
}

test('a delivery posts the body without sender to /run/<internal name> and logs the console line', async (t) => {
  const tweets = await startReceiver(t, 'tweets')
  const { deliverer, log } = startDeliverer(t)

  await deliverer.deliver({
    receiver: {
      name: 'tweets',
      host: '127.0.0.1',
      port: tweets.port,
      internalNamespace: 'text-snippets',
    },
    internalName: 'text-snippets.create',
    publicName: 'tweets.create',
    sender: 'web',
    envelope,
  })

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
  const job = {
    receiver: { name: 'users', host: '127.0.0.1', port: users.port },
    internalName: 'users.create',
    publicName: 'users.create',
    sender: 'web',
    envelope,
  }

  for (let i = 0; i < 6; i++) await deliverer.deliver(job)

  assert.equal(users.runs.length, 6)
  const connections = new Set(users.runs.map((run) => run.remotePort))
  assert.ok(connections.size < 6, `${connections.size} connections for 6 sequential deliveries`)
})

test('a receiver that answers non-2xx is a warning with its status and text, never a rejection', async (t) => {
  const broken = await startReceiver(t, 'broken', 'fail')
  const { deliverer, log } = startDeliverer(t)

  await deliverer.deliver({
    receiver: { name: 'broken', host: '127.0.0.1', port: broken.port },
    internalName: 'broken.ping',
    publicName: 'broken.ping',
    sender: 'web',
    envelope,
  })

  const [warning] = log.at('warn')
  assert.equal(warning?.fields.status, 500)
  assert.equal(warning?.fields.response, 'the handler threw')
  assert.equal(log.at('info').length, 0)
})

test('close() waits for a delivery in flight to finish before it resolves', async (t) => {
  const slow = await startReceiver(t, 'slow', 'hang')
  const { deliverer, log } = startDeliverer(t, 100)

  const delivery = deliverer.deliver({
    receiver: { name: 'slow', host: '127.0.0.1', port: slow.port },
    internalName: 'slow.ping',
    publicName: 'slow.ping',
    sender: 'web',
    envelope,
  })
  await slow.waitForRuns(1)
  let settled = false
  void delivery.then(() => {
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

  await deliverer.deliver({
    receiver: { name: 'users', host: '127.0.0.1', port: users.port },
    internalName: 'users.create',
    publicName: 'users.create',
    sender: 'web',
    envelope,
  })

  assert.equal(users.runs.length, 0)
  assert.match(log.at('warn')[0]?.message ?? '', /closing/)
})
