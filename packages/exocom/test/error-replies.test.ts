import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes } from '@exorelay/core'
import { request, send, serviceOf, startBus, startReceiver } from './helpers.js'

// An original relay takes a reply named `__error` for a successful one (its callback runs with
// outcome '__error'), so the bus delivers error replies only to relays that declared them.

test('an error reply never reaches a relay registered through POST /services: it is logged and refused', async (t) => {
  const { exocom, log } = await startBus(t)
  const web = await startReceiver(t, 'web')
  const users = await startReceiver(t, 'users')
  const table = [serviceOf(web, ['users.created']), serviceOf(users, ['users.create'])]
  assert.equal((await request(exocom, 'POST', '/services', table)).status, 200)

  assert.equal((await send(exocom, 'users.create', { id: 'm-1', sender: 'web' })).status, 200)
  await users.waitForRuns(1)
  const answer = await send(exocom, '__error', {
    id: 'm-2',
    sender: 'users',
    responseTo: 'm-1',
    payload: { code: 'USERS_DUPLICATE', message: 'Will Riker exists already.' },
  })

  // The answer comes after the deliveries started: with none started, web gets nothing.
  assert.equal(answer.status, 404)
  assert.equal(answer.code, ErrorCodes.NO_RECEIVER)
  assert.match(answer.text, /^No service takes the error reply: 'web' did not declare/)
  const warning = await log.waitFor(
    (entry) => /^error reply not delivered/.test(entry.message ?? ''),
    {
      timeout: 5_000,
    },
  )
  assert.match(warning.message ?? '', /'web' did not declare that it understands error replies/)
  assert.deepEqual(warning.fields, {
    sender: 'users',
    messageName: '__error',
    messageId: 'm-2',
    responseTo: 'm-1',
  })
  // One warning that says why, not a second one that claims nobody receives '__error'.
  assert.equal(log.at('warn').length, 1)
  // An ordinary reply still goes back, and it is the only thing web received.
  assert.equal(
    (await send(exocom, 'users.created', { id: 'm-3', sender: 'users', responseTo: 'm-1' })).status,
    200,
  )
  const runs = await web.waitForRuns(1)
  assert.deepEqual(
    runs.map((run) => run.url),
    ['/run/users.created'],
  )
})

test('a relay that declared errorReplies gets the error reply to its request', async (t) => {
  const { exocom } = await startBus(t)
  const web = await startReceiver(t, 'web')
  const users = await startReceiver(t, 'users')
  const table = [{ ...serviceOf(web, []), errorReplies: true }, serviceOf(users, ['users.create'])]
  assert.equal((await request(exocom, 'POST', '/services', table)).status, 200)

  assert.equal((await send(exocom, 'users.create', { id: 'm-1', sender: 'web' })).status, 200)
  await users.waitForRuns(1)
  const payload = { code: 'USERS_DUPLICATE', message: 'Will Riker exists already.' }
  const answer = await send(exocom, '__error', {
    id: 'm-2',
    sender: 'users',
    responseTo: 'm-1',
    payload,
  })
  assert.equal(answer.status, 200)
  const [run] = await web.waitForRuns(1)
  assert.equal(run!.url, '/run/__error')
  assert.deepEqual(run!.body, { id: 'm-2', payload, responseTo: 'm-1' })
})

test('with receivers of both kinds, only the one that declared errorReplies gets the error reply', async (t) => {
  const { exocom, log } = await startBus(t)
  const web = await startReceiver(t, 'web')
  const users = await startReceiver(t, 'users')
  // A monitor that watches every error reply, and understands them.
  const monitor = await startReceiver(t, 'monitor')
  const table = [
    serviceOf(web, []),
    serviceOf(users, ['users.create']),
    { ...serviceOf(monitor, ['__error']), errorReplies: true },
  ]
  assert.equal((await request(exocom, 'POST', '/services', table)).status, 200)
  assert.equal((await send(exocom, 'users.create', { id: 'm-1', sender: 'web' })).status, 200)
  await users.waitForRuns(1)

  const answer = await send(exocom, '__error', { id: 'm-2', sender: 'users', responseTo: 'm-1' })

  assert.equal(answer.status, 200)
  const [run] = await monitor.waitForRuns(1)
  assert.equal(run!.url, '/run/__error')
  const warning = await log.waitFor(
    (entry) => /^error reply not delivered/.test(entry.message ?? ''),
    {
      timeout: 5_000,
    },
  )
  assert.match(warning.message ?? '', /'web' did not declare/)
  // A reply sent after it overtakes nothing: web got only that one.
  assert.equal(
    (await send(exocom, 'users.created', { id: 'm-3', sender: 'users', responseTo: 'm-1' })).status,
    200,
  )
  assert.deepEqual(
    (await web.waitForRuns(1)).map((r) => r.url),
    ['/run/users.created'],
  )
})

test('in a batch, an error reply for a relay that did not declare it gets its own 404, the rest go on', async (t) => {
  const { exocom } = await startBus(t)
  const web = await startReceiver(t, 'web')
  const users = await startReceiver(t, 'users')
  const table = [serviceOf(web, []), serviceOf(users, ['users.create'])]
  assert.equal((await request(exocom, 'POST', '/services', table)).status, 200)
  assert.equal((await send(exocom, 'users.create', { id: 'm-1', sender: 'web' })).status, 200)
  await users.waitForRuns(1)

  const answer = await request(exocom, 'POST', '/send', [
    { name: '__error', id: 'm-2', sender: 'users', responseTo: 'm-1' },
    { name: 'users.created', id: 'm-3', sender: 'users', responseTo: 'm-1' },
  ])

  assert.equal(answer.status, 200)
  const results = JSON.parse(answer.text) as { status: number; code?: string }[]
  assert.deepEqual(
    results.map(({ status, code }) => ({ status, code })),
    [
      { status: 404, code: ErrorCodes.NO_RECEIVER },
      { status: 200, code: undefined },
    ],
  )
  assert.deepEqual(
    (await web.waitForRuns(1)).map((r) => r.url),
    ['/run/users.created'],
  )
})

test('errorReplies must be a boolean', async (t) => {
  const { exocom } = await startBus(t)
  const web = await startReceiver(t, 'web')
  const answer = await request(exocom, 'POST', '/services', [
    { ...serviceOf(web, []), errorReplies: 'yes' },
  ])
  assert.equal(answer.status, 400)
  assert.equal(answer.code, ErrorCodes.BUS_INVALID_REGISTRATION)
  assert.match(answer.text, /'errorReplies' that is not a boolean, got 'yes'/)
})
