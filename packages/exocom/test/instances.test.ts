import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes } from '@exorelay/core'
import { freePort } from '@exorelay/testing'
import { request, send, serviceOf, startBus, startReceiver } from './helpers.js'

// Issue 14: several instances of one service (decision 0017). The relay-level tests, with
// instances in their own processes and one killed under load, are in exorelay's
// instances.test.ts.

test('a message that finds nothing listening at one instance goes to the next, and the dead one is dropped', async (t) => {
  const { exocom, log } = await startBus(t)
  const live = await startReceiver(t, 'users')
  const deadPort = await freePort()
  const users = { name: 'users', host: '127.0.0.1', receives: ['users.create'] }
  await request(exocom, 'PUT', '/services/users', { ...users, instance: 'dead', port: deadPort })
  await request(exocom, 'PUT', '/services/users', { ...users, instance: 'live', port: live.port })

  // Round robin sends the first message to the dead instance.
  assert.equal((await send(exocom, 'users.create', { sender: 'web', id: 'm-1' })).status, 200)

  const [run] = await live.waitForRuns(1, 5_000)
  assert.deepEqual(run?.body, { id: 'm-1' })
  assert.deepEqual(
    exocom.config().services.users?.instances.map((instance) => instance.instance),
    ['live'],
  )
  await log.waitFor(
    (entry) =>
      entry.message ===
      `re-routed: web  --[ users.create ]->  users: nothing listened at http://127.0.0.1:${deadPort}, so it goes to the instance at http://127.0.0.1:${live.port}`,
    { timeout: 5_000 },
  )
  // Taken by another instance, the message is no failure: no warning says it was not delivered.
  assert.deepEqual(
    log.at('warn').map((entry) => entry.message),
    [
      `an instance of the service 'users' dropped: nothing listens at http://127.0.0.1:${deadPort}; 1 left; it is routed again once it registers`,
    ],
  )
})

test('DELETE /services/<name>?instance=<id> withdraws that instance alone', async (t) => {
  const { exocom } = await startBus(t)
  const a = await startReceiver(t, 'users')
  const b = await startReceiver(t, 'users')
  await request(exocom, 'PUT', '/services/users', { ...serviceOf(a, ['x']), instance: 'a' })
  await request(exocom, 'PUT', '/services/users', { ...serviceOf(b, ['x']), instance: 'b' })

  assert.equal((await request(exocom, 'DELETE', '/services/users?instance=a')).status, 200)
  const again = await request(exocom, 'DELETE', '/services/users?instance=a')
  const twice = await request(exocom, 'DELETE', '/services/users?instance=b&instance=c')

  assert.equal(again.status, 404)
  assert.equal(again.code, ErrorCodes.BUS_UNKNOWN_SERVICE)
  assert.match(again.text, /No instance 'a' of a service 'users' is registered\./)
  const address = await request(exocom, 'DELETE', '/services/users?instance=at%20http%3A%2F%2Fx')
  assert.equal(twice.status, 400)
  assert.match(twice.text, /names 2 instances: name one/)
  assert.equal(address.status, 400)
  assert.match(address.text, /names the instance 'at http:\/\/x', which is no instance id/)
  assert.deepEqual(
    exocom.config().services.users?.instances.map((instance) => instance.instance),
    ['b'],
  )
  assert.equal((await send(exocom, 'x', { sender: 'web', id: 'm-1' })).status, 200)
  await b.waitForRuns(1, 5_000)
  assert.equal(a.runs.length, 0)
})

test('a message whose instance is not a valid id is refused with 400, and a reply to a gone instance reaches nobody', async (t) => {
  const { exocom } = await startBus(t)
  const users = await startReceiver(t, 'users')
  const web = await startReceiver(t, 'web')
  await request(exocom, 'PUT', '/services/users', serviceOf(users, ['users.create']))
  await request(exocom, 'PUT', '/services/web', { ...serviceOf(web, []), instance: 'w1' })

  for (const instance of [7, 'a b', 'x'.repeat(129)]) {
    const bad = await send(exocom, 'users.create', { sender: 'web', id: 'm-0', instance })
    assert.equal(bad.status, 400)
    assert.equal(bad.code, ErrorCodes.INVALID_MESSAGE)
    assert.match(bad.text, /message instance must be an id of 1 to 128 visible ASCII characters/)
  }

  await send(exocom, 'users.create', { sender: 'web', instance: 'w-gone', id: 'm-1' })
  await users.waitForRuns(1, 5_000)
  const reply = await send(exocom, 'users.created', {
    sender: 'users',
    id: 'r-1',
    responseTo: 'm-1',
  })

  // Nobody else receives the reply, and the instance that asked is gone: 404, never `w1`.
  assert.equal(reply.status, 404)
  assert.match(
    reply.text,
    /^No service receives the reply 'users\.created': the instance of 'web' that sent the message it answers is gone/,
  )
  assert.equal(web.runs.length, 0)
})
