import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RecordingLogger } from '@exorelay/testing'
import { ErrorCodes, ExoRelay, MemoryBus, PayloadInvalidError } from 'exorelay'
import { contract, type User, type UsersMessages } from '../src/contract.js'
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
  // With the service's contract, as `exoservice run` runs it: requests are validated first.
  const users = new ExoRelay({
    serviceName: 'users',
    contract,
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
  // Without a contract: a sender that checks nothing, as a buggy or foreign one would.
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

/** The error `send` rejects with, which must be a refusal by the contract. */
async function refusal(sent: Promise<unknown>): Promise<PayloadInvalidError> {
  const error = await sent.then(
    () => assert.fail('the payload was accepted'),
    (error: unknown) => error,
  )
  assert.ok(error instanceof PayloadInvalidError, `not a refusal by the contract: ${error}`)
  return error
}

test('users.create whose payload the contract refuses is answered with PAYLOAD_INVALID naming the field, and its handler never runs', async (t) => {
  const { web, store, encrypted } = await start(t)
  // The sender's types would not let a number through: a sender in another language would.
  const payload = { name: 42, password: 'x' } as unknown as UsersMessages['users.create']['payload']
  const error = await refusal(web.send('users.create', payload, { timeout: 5000 }))
  assert.equal(error.code, ErrorCodes.PAYLOAD_INVALID)
  assert.equal(error.messageName, 'users.create')
  assert.equal(error.service, 'users')
  assert.deepEqual(
    error.issues.map(({ path }) => path),
    ['name'],
  )
  assert.deepEqual(store.list(), [], 'the handler must not run')
  assert.deepEqual(encrypted, [])
})

test('users.create without a name or password, with one too long, or not an object, is refused by the contract', async (t) => {
  const { web, store } = await start(t)
  const payloads: [unknown, string][] = [
    [{ password: 'secret' }, 'name'],
    [{ name: 'Deanna' }, 'password'],
    [{ name: 'x'.repeat(201), password: 'secret' }, 'name'],
    [{ name: 'Deanna', password: 'x'.repeat(1001) }, 'password'],
    ['Deanna', ''],
    [null, ''],
  ]
  for (const [payload, path] of payloads) {
    const sent = web.send('users.create', payload as { name: string; password: string })
    const error = await refusal(sent)
    assert.equal(error.code, ErrorCodes.PAYLOAD_INVALID)
    assert.deepEqual(
      error.issues.map((issue) => issue.path),
      [path],
      JSON.stringify(payload),
    )
  }
  assert.deepEqual(store.list(), [])
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
