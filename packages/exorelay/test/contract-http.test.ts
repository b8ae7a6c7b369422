import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startExoCom } from '@exorelay/exocom'
import { RecordingLogger } from '@exorelay/testing'
import {
  defineContract,
  ErrorCodes,
  ExoRelay,
  isExoRelayError,
  PayloadInvalidError,
} from '../src/index.js'

// A contract over HTTP through a real ExoCom (issue 20): the receiver refuses an invalid
// payload before its handler runs, and the caller gets a PayloadInvalidError with the issues,
// as over the memory transport (core's contract.test.ts). A hand-written Standard Schema:
// the facade depends on no validator library.

/** A Standard Schema v1 of `{ name: string }`. */
const named = {
  '~standard': {
    version: 1 as const,
    vendor: 'test',
    validate(value: unknown) {
      const name = (value as { name?: unknown } | undefined)?.name
      return typeof name === 'string'
        ? { value: { name } }
        : { issues: [{ message: `Expected string, received ${typeof name}`, path: ['name'] }] }
    },
    types: undefined as unknown as { input: { name: string }; output: { name: string } },
  },
}

const contract = defineContract({
  'users.create': { payload: named, replies: { 'users.created': named } },
})

test('over HTTP, an invalid payload reaches the caller as a PayloadInvalidError with its issues', async (t) => {
  const bus = await startExoCom({ port: 0, logger: false })
  const usersLog = new RecordingLogger()
  const on = { exocomPort: bus.port, port: 0, contract }
  const users = new ExoRelay({ ...on, serviceName: 'users', logger: usersLog })
  // It sends what its contract refuses: the receiver's check is the one under test.
  const web = new ExoRelay({ ...on, serviceName: 'web', logger: false, validateOutgoing: false })
  t.after(async () => {
    await Promise.all([web.close(), users.close()])
    await bus.close()
  })
  // Typed by the contract, with no type argument.
  const _typed: ExoRelay<{
    'users.create': { payload: { name: string }; replies: { 'users.created': { name: string } } }
  }> = web
  const _checked = () => {
    // @ts-expect-error: the contract says name is a string
    web.send('users.create', { name: 42 })
    new ExoRelay<{ 'orders.place': { payload: { item: string }; replies: { placed: null } } }>({
      serviceName: 'web',
      // @ts-expect-error: a map the contract does not give (core's Relay refuses it too)
      contract,
    })
  }
  let ran = 0
  users.registerHandler('users.create', (user, { reply }) => {
    ran++
    return reply('users.created', user)
  })
  await Promise.all([web.listen(), users.listen()])

  // Each send has its deadline: the relay's timeout.
  assert.deepEqual(await web.send('users.create', { name: 'Will' }), { name: 'Will' })
  const error = await web.send('users.create', { name: 42 } as never).then(
    () => assert.fail('the send resolved'),
    (e: unknown) => e,
  )
  assert.ok(isExoRelayError(error, ErrorCodes.PAYLOAD_INVALID), String(error))
  assert.ok(error instanceof PayloadInvalidError)
  assert.equal(error.service, 'users')
  assert.deepEqual(error.issues, [{ path: 'name', message: 'Expected string, received number' }])
  assert.equal(
    error.message,
    "The payload of 'users.create' does not match the contract of service 'users': name: Expected string, received number. Send what the contract says, or update the contract on both sides.",
  )
  assert.equal(ran, 1)
  const refused = await usersLog.waitFor((entry) => entry.message === 'payload invalid: refused')
  assert.equal(refused.level, 'warn')
})
