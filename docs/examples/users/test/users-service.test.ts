import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RecordingLogger } from '@exorelay/testing'
import { ErrorCodes, ExoRelay, MemoryBus } from 'exorelay'
import type { User, UsersMessages } from '../src/messages.js'
import { UserStore } from '../src/user-store.js'
import { usersService } from '../src/users-service.js'

interface Landscape {
  web: ExoRelay<UsersMessages>
  store: UserStore
  encrypted: string[]
}

/** The users service on a memory bus, with a stub passwords service and a `web` to send from. */
async function start(
  t: { after: (fn: () => Promise<void>) => void },
  options: {
    passwordsReply?: boolean
    /** Default 200; `undefined`: users waits for passwords as long as its requester waits. */
    passwordsTimeout?: number | undefined
    log?: RecordingLogger
  } = {},
): Promise<Landscape> {
  const bus = new MemoryBus()
  const store = new UserStore()
  const encrypted: string[] = []
  const passwordsTimeout = 'passwordsTimeout' in options ? options.passwordsTimeout : 200
  const users = new ExoRelay<UsersMessages>({
    serviceName: 'users',
    transport: bus.transport(),
    logger: options.log ?? false,
  }).registerHandlers(
    usersService({ store, ...(passwordsTimeout === undefined ? {} : { passwordsTimeout }) }),
  )
  const passwords = new ExoRelay<UsersMessages>({
    serviceName: 'passwords',
    transport: bus.transport(),
    logger: false,
  })
  passwords.registerHandler('passwords.encrypt', async (password, { reply }) => {
    encrypted.push(password)
    if (options.passwordsReply !== false) await reply('passwords.encrypted', `salt:${password}`)
  })
  const web = new ExoRelay<UsersMessages>({
    serviceName: 'web',
    transport: bus.transport(),
    logger: false,
  })
  await Promise.all([users.listen(), passwords.listen(), web.listen()])
  t.after(async () => {
    await Promise.all([web.close(), passwords.close(), users.close()])
  })
  return { web, store, encrypted }
}

test('users.create stores the user with the hash from the passwords service and replies users.created without it', async (t) => {
  const { web, store, encrypted } = await start(t)
  const reply = await web
    .send('users.create', { name: 'Will Riker', password: 'secret' }, { timeout: 5000 })
    .envelope()
  assert.equal(reply.name, 'users.created')
  const user = reply.payload as User
  assert.deepEqual(Object.keys(user).sort(), ['id', 'name'])
  assert.equal(user.name, 'Will Riker')
  assert.deepEqual(encrypted, ['secret'])
  assert.equal(store.get(user.id)?.passwordHash, 'salt:secret')
})

test('users.create with an empty or blank name replies users.not-created with a reason', async (t) => {
  const { web, encrypted } = await start(t)
  for (const name of ['', '   ']) {
    const reply = await web
      .send('users.create', { name, password: 'secret' }, { timeout: 5000 })
      .envelope()
    assert.equal(reply.name, 'users.not-created')
    assert.deepEqual(reply.payload, { reason: 'a name is required' })
  }
  assert.deepEqual(encrypted, [], 'an invalid user must not reach the passwords service')
})

test('users.create without a name or password, or without an object, replies users.not-created', async (t) => {
  const { web } = await start(t)
  const payloads: unknown[] = [{ password: 'secret' }, { name: 'Deanna' }, 'Deanna', null]
  const reasons = []
  for (const payload of payloads) {
    const reply = await web
      .send('users.create', payload as { name: string; password: string }, { timeout: 5000 })
      .envelope()
    assert.equal(reply.name, 'users.not-created')
    reasons.push((reply.payload as { reason: string }).reason)
  }
  assert.deepEqual(reasons, [
    'a name is required',
    'a password is required',
    'the payload must be an object',
    'the payload must be an object',
  ])
})

test('users.list replies users.listed with every created user, in order, without hashes', async (t) => {
  const { web } = await start(t)
  assert.deepEqual(await web.send('users.list', undefined, { timeout: 5000 }), [])
  const riker = await web.send('users.create', { name: 'Will Riker', password: 'a' })
  const troi = await web.send('users.create', { name: 'Deanna Troi', password: 'b' })
  assert.deepEqual(await web.send('users.list', undefined, { timeout: 5000 }), [riker, troi])
})

test('a passwords service that never replies makes users.create fail with the timeout, and stores nobody', async (t) => {
  const { web, store } = await start(t, { passwordsReply: false })
  // users gives up on passwords after 200 ms and answers with an error reply, long before
  // web's own deadline.
  await assert.rejects(
    web.send('users.create', { name: 'Will Riker', password: 'secret' }, { timeout: 60_000 }),
    { code: ErrorCodes.REMOTE_HANDLER_FAILED, remoteCode: ErrorCodes.TIMEOUT },
  )
  assert.deepEqual(store.list(), [])
})

test('users.create whose requester stops waiting while passwords works stops, and logs why instead of answering', async (t) => {
  const log = new RecordingLogger()
  const { web, store } = await start(t, { passwordsReply: false, passwordsTimeout: undefined, log })
  await assert.rejects(
    web.send('users.create', { name: 'Will Riker', password: 'secret' }, { timeout: 200 }),
    { code: ErrorCodes.TIMEOUT },
  )
  const stopped = await log.waitFor(
    (entry) => entry.message?.startsWith('users.create stopped') === true,
  )
  assert.equal(stopped.level, 'warn')
  assert.equal(stopped.fields.code, ErrorCodes.TIMEOUT)
  assert.match(
    stopped.message ?? '',
    /^users\.create stopped: The deadline of 'users\.create' .* passed/,
  )
  assert.deepEqual(log.find('handler failed'), [], 'a stop is no failure: no error reply')
  assert.deepEqual(store.list(), [])
})
