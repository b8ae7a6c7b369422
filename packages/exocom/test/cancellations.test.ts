import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes } from '@exorelay/core'
import { request, send, serviceOf, startBus, startReceiver } from './helpers.js'

// Issue 15: a cancellation (`__cancel`, `responseTo` the request's id) goes where the request
// went, to the instances that understand cancellations, and nowhere else (decision 0019).

test('a cancellation goes to the instance that took the request', async (t) => {
  const { exocom } = await startBus(t)
  const users = await startReceiver(t, 'users')
  const audit = await startReceiver(t, 'audit')
  await request(exocom, 'PUT', '/services/users', {
    ...serviceOf(users, ['users.create']),
    cancels: true,
  })
  // audit gets the request too, but does not understand cancellations.
  await request(exocom, 'PUT', '/services/audit', serviceOf(audit, ['users.create']))

  await send(exocom, 'users.create', { sender: 'web', id: 'm-1', timeout: 5_000 })
  await users.waitForRuns(1)
  const cancelled = await send(exocom, '__cancel', { sender: 'web', id: 'c-1', responseTo: 'm-1' })

  assert.equal(cancelled.status, 200)
  const [, run] = await users.waitForRuns(2)
  assert.equal(run?.url, '/run/__cancel')
  assert.deepEqual(run?.body, { id: 'c-1', responseTo: 'm-1' })
  await audit.waitForRuns(1)
  assert.deepEqual(
    audit.runs.map((r) => r.url),
    ['/run/users.create'],
  )
  assert.equal(exocom.config().services.users?.cancels, true)
})

test('a cancellation nobody can take is answered 404, and is delivered nowhere', async (t) => {
  const { exocom } = await startBus(t)
  const users = await startReceiver(t, 'users')
  await request(exocom, 'PUT', '/services/users', {
    ...serviceOf(users, ['users.create']),
    cancels: true,
  })
  // Without a timeout a message waits for no reply: nobody remembers where it went.
  await send(exocom, 'users.create', { sender: 'web', id: 'm-1' })
  await users.waitForRuns(1)

  await send(exocom, 'users.create', { sender: 'web', id: 'm-2', timeout: 5_000 })
  await users.waitForRuns(2)
  // Only the sender of a request may cancel it, and only once.
  const fromAnother = await send(exocom, '__cancel', {
    sender: 'shop',
    id: 'c-0',
    responseTo: 'm-2',
  })
  assert.equal(fromAnother.status, 404)
  assert.equal(
    (await send(exocom, '__cancel', { sender: 'web', id: 'c-1', responseTo: 'm-2' })).status,
    200,
  )
  await users.waitForRuns(3)

  for (const responseTo of ['m-1', 'm-2', 'never-sent', undefined]) {
    const answer = await send(exocom, '__cancel', { sender: 'web', id: 'c-1', responseTo })
    assert.equal(answer.status, 404)
    assert.equal(answer.code, ErrorCodes.NO_RECEIVER)
    assert.match(answer.text, /^No service takes the cancellation of /)
  }
  assert.equal(users.runs.length, 3)
})
