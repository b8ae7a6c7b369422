import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RecordingLogger } from '@exorelay/testing'
import { ErrorCodes, ExoRelay, MemoryBus } from 'exorelay'
import { contract, type PasswordsMessages } from '../src/contract.js'
import { SLOW_PASSWORD, verifyPassword } from '../src/hash-password.js'
import { passwordsService } from '../src/passwords-service.js'

async function start(t: { after: (fn: () => Promise<void>) => void }, log = new RecordingLogger()) {
  const bus = new MemoryBus()
  // With the service's contract, as `exoservice run` runs it: requests are validated first.
  const passwords = new ExoRelay({
    serviceName: 'passwords',
    contract,
    transport: bus.transport(),
    logger: log,
  }).registerHandlers(passwordsService())
  const users = new ExoRelay<PasswordsMessages>({
    serviceName: 'users',
    transport: bus.transport(),
    logger: false,
  })
  await passwords.listen()
  await users.listen()
  t.after(async () => {
    await users.close()
    await passwords.close()
  })
  return users
}

test('passwords.encrypt is answered with passwords.encrypted and a hash of the password', async (t) => {
  const users = await start(t)
  const reply = await users.send('passwords.encrypt', 'secret', { timeout: 5000 }).envelope()
  assert.equal(reply.name, 'passwords.encrypted')
  assert.equal(await verifyPassword('secret', reply.payload ?? ''), true)
})

test('an empty password is refused with an error reply that reaches the sender at once', async (t) => {
  const users = await start(t)
  await assert.rejects(users.send('passwords.encrypt', '', { timeout: 60_000 }), {
    code: ErrorCodes.REMOTE_HANDLER_FAILED,
    remoteCode: ErrorCodes.HANDLER_FAILED,
    message: /needs a non-empty string as its payload, got an empty string/,
  })
})

test('a payload that is no string is refused by the contract before the handler runs', async (t) => {
  const log = new RecordingLogger()
  const users = await start(t, log)
  await assert.rejects(
    users.send('passwords.encrypt', 42 as unknown as string, { timeout: 60_000 }),
    {
      code: ErrorCodes.PAYLOAD_INVALID,
      service: 'passwords',
    },
  )
  assert.equal(log.find('handler failed').length, 0, 'the handler must not run')
})

test('the slow password outlives a deadline: the hashing stops at it, and the handler logs why instead of replying', async (t) => {
  const log = new RecordingLogger()
  const users = await start(t, log)
  await assert.rejects(users.send('passwords.encrypt', SLOW_PASSWORD, { timeout: 200 }), {
    code: ErrorCodes.TIMEOUT,
  })
  const stopped = await log.waitFor(
    (entry) => entry.message?.startsWith('passwords.encrypt stopped') === true,
  )
  assert.equal(stopped.level, 'warn')
  assert.equal(stopped.message, 'passwords.encrypt stopped: deadline passed')
  assert.equal(stopped.fields.code, ErrorCodes.TIMEOUT)
  assert.equal(stopped.fields.messageName, 'passwords.encrypt')
  assert.equal(log.find('handler failed').length, 0, 'a stop is no failure')
})

test('a caller that cancels stops the hashing too', async (t) => {
  const log = new RecordingLogger()
  const users = await start(t, log)
  const controller = new AbortController()
  const sent = users.send('passwords.encrypt', SLOW_PASSWORD, {
    timeout: 60_000,
    signal: controller.signal,
  })
  await log.waitFor((entry) => entry.message === 'received' && entry.fields.service === 'passwords')
  controller.abort()
  await assert.rejects(sent, { code: ErrorCodes.ABORTED })
  const stopped = await log.waitFor(
    (entry) => entry.message?.startsWith('passwords.encrypt stopped') === true,
  )
  assert.equal(stopped.message, 'passwords.encrypt stopped: the caller cancelled')
})
