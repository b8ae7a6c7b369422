import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes, ExoRelay, MemoryBus } from 'exorelay'
import { verifyPassword } from '../src/hash-password.js'
import type { PasswordsMessages } from '../src/messages.js'
import { createPasswordsService } from '../src/passwords-service.js'

async function start(t: { after: (fn: () => Promise<void>) => void }) {
  const bus = new MemoryBus()
  const passwords = createPasswordsService({
    serviceName: 'passwords',
    transport: bus.transport(),
    logger: false,
  })
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
