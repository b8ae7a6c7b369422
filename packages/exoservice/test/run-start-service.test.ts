import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { test } from 'node:test'
import { pathToFileURL } from 'node:url'
import { freePort, MockExoCom, RecordingLogger, withDeadline } from '@exorelay/testing'
import { ErrorCodes } from 'exorelay'
import { defineService } from '../src/define-service.js'
import { ExoServiceErrorCodes } from '../src/errors.js'
import { startService } from '../src/start-service.js'
import { isFree } from './ports.js'
import { fixture } from './run-helpers.js'

const WAIT = 10_000

async function mockBus(t: { after(fn: () => unknown): void }): Promise<MockExoCom> {
  const exocom = new MockExoCom()
  await exocom.listen()
  t.after(() => exocom.close())
  return exocom
}

/** The fixture service `name`, started against a mock bus with a recording logger; closed after. */
async function startFixture(t: { after(fn: () => unknown): void }, name: string) {
  const exocom = await mockBus(t)
  const logger = new RecordingLogger()
  const service = await startService(pathToFileURL(fixture(name)), {
    exocomPort: exocom.port,
    port: 0,
    logger,
  })
  t.after(() => service.close())
  return { exocom, logger, service }
}

test('a TypeScript service goes online, answers through the bus, and logs online at port <N>', async (t) => {
  const { exocom, logger, service } = await startFixture(t, 'users-ts')

  assert.equal(service.relay.serviceName, 'users')
  assert.equal(service.service?.type, 'users')
  assert.deepEqual(service.warnings, [])
  const online = logger.find(`online at port ${service.port}`, 'info')
  assert.equal(online.length, 1)
  assert.equal(online[0]!.fields.port, service.port)
  assert.equal(online[0]!.fields.service, 'users')
  // beforeAll ran before the service went online.
  const messages = logger.entries.map((entry) => entry.message)
  assert.ok(messages.indexOf('beforeAll ran') < messages.indexOf(`online at port ${service.port}`))

  await exocom.waitForService('users', { timeout: WAIT })
  await exocom.send({ service: 'users', name: 'users.create', payload: { name: 'Ada' } })
  const created = await exocom.waitForMessage('users.created', { timeout: WAIT })
  assert.deepEqual(created.payload, { id: 1, name: 'Ada' })
})

test('a JavaScript service runs too, and a handler service.yml does not declare is a warning', async (t) => {
  const exocom = await mockBus(t)
  const logger = new RecordingLogger()
  const service = await startService(fixture('users-js'), {
    exocomPort: exocom.port,
    port: 0,
    logger,
  })
  t.after(() => service.close())

  assert.equal(service.warnings.length, 1)
  assert.match(service.warnings[0]!, /'users\.extra' is not declared under messages\.receives/)
  assert.match(service.warnings[0]!, /server\.js/)
  assert.deepEqual(
    logger.at('warn').map((entry) => entry.message),
    service.warnings,
  )
  await exocom.waitForService('users', { timeout: WAIT })
  await exocom.send({ service: 'users', name: 'users.create', payload: { name: 'Bo' } })
  const created = await exocom.waitForMessage('users.created', { timeout: WAIT })
  assert.deepEqual(created.payload, { id: 2, name: 'Bo' })
})

test('SERVICE_NAME overrides the type as the relay name, and the serviceName option both', async (t) => {
  const exocom = await mockBus(t)
  const fromEnv = await startService(fixture('users-js'), {
    exocomPort: exocom.port,
    port: 0,
    logger: false,
    env: { SERVICE_NAME: 'users-2' },
  })
  t.after(() => fromEnv.close())
  assert.equal(fromEnv.relay.serviceName, 'users-2')
  const fromOption = await startService(fixture('users-js'), {
    exocomPort: exocom.port,
    port: 0,
    logger: false,
    serviceName: 'users-3',
    env: { SERVICE_NAME: 'users-2' },
  })
  t.after(() => fromOption.close())
  assert.equal(fromOption.relay.serviceName, 'users-3')
})

test('close() lets a handler that is mid-await finish: its reply still arrives, then afterAll runs', async (t) => {
  const exocom = await mockBus(t)
  const logger = new RecordingLogger()
  const service = await startService(fixture('users-ts'), {
    exocomPort: exocom.port,
    port: 0,
    logger,
  })
  const registered = await exocom.waitForService('users', { timeout: WAIT })
  await exocom.send({ service: 'users', name: 'users.slow' })
  // The handler now waits for the reply to its own request.
  const request = await exocom.waitForMessage('clock.now', { timeout: WAIT })

  const closed = service.close()
  assert.equal(service.close(), closed, 'a second close() returns the first one')
  await logger.waitFor((entry) => entry.message?.startsWith('closing') === true, {
    timeout: WAIT,
  })
  assert.equal(logger.find('afterAll ran').length, 0, 'afterAll waits for the handler')
  // Closing withdrew the service from the bus; the reply to its request still reaches it.
  exocom.registerService(registered)
  await exocom.send({ service: 'users', name: 'clock.told', responseTo: request.id, payload: 42 })
  const slowed = await exocom.waitForMessage('users.slowed', { timeout: WAIT })
  assert.equal(slowed.payload, 42)

  await withDeadline(closed, WAIT, () => 'close() did not resolve')
  assert.equal(logger.find('afterAll ran').length, 1)
  assert.equal(await isFree(service.port), true)
})

test('every message service.yml receives needs a handler: the error names each missing one', async () => {
  await assert.rejects(startService(fixture('missing-handlers'), { logger: false }), (error) => {
    assert.equal((error as { code: string }).code, ExoServiceErrorCodes.HANDLERS)
    assert.match(
      (error as Error).message,
      /no handler for 'users\.create', 'users\.delete', which service\.yml lists under messages\.receives/,
    )
    return true
  })
})

test('a beforeAll that rejects fails startup with its message; afterAll does not run, nothing listens', async () => {
  const port = await freePort()
  const logger = new RecordingLogger()
  await assert.rejects(
    startService(fixture('before-all-rejects'), { exocomPort: 1, port, logger }),
    (error) => {
      assert.equal((error as { code: string }).code, ExoServiceErrorCodes.STARTUP)
      assert.match((error as Error).message, /beforeAll failed: cannot connect to the database\./)
      return true
    },
  )
  assert.equal(logger.find('afterAll ran').length, 0)
  assert.equal(await isFree(port), true)
})

test('a beforeAll that outlasts startupTimeout fails startup, and its signal aborts', async () => {
  const port = await freePort()
  const logger = new RecordingLogger()
  await assert.rejects(
    startService(fixture('before-all-slow'), {
      exocomPort: 1,
      port,
      logger,
      startupTimeout: 50,
    }),
    (error) => {
      assert.equal((error as { code: string }).code, ExoServiceErrorCodes.STARTUP)
      assert.match(
        (error as Error).message,
        /beforeAll did not finish within the startup timeout of 50 ms\. .*--startup-timeout, env EXOSERVICE_STARTUP_TIMEOUT/,
      )
      return true
    },
  )
  const aborted = logger.find('beforeAll aborted')
  assert.equal(aborted[0]?.fields.code, ExoServiceErrorCodes.STARTUP)
  assert.equal(await isFree(port), true)
})

test('EXOSERVICE_STARTUP_TIMEOUT sets the startup timeout; a value that is not milliseconds is refused', async () => {
  await assert.rejects(
    startService(fixture('before-all-slow'), {
      exocomPort: 1,
      port: 0,
      logger: false,
      env: { EXOSERVICE_STARTUP_TIMEOUT: '40' },
    }),
    /startup timeout of 40 ms/,
  )
  for (const value of ['soon', '-5', '1.5', '0']) {
    await assert.rejects(
      startService(fixture('users-js'), {
        exocomPort: 1,
        logger: false,
        env: { EXOSERVICE_STARTUP_TIMEOUT: value },
      }),
      (error) => {
        // A configuration mistake, coded as the relay codes its own options.
        assert.equal((error as { code: string }).code, ErrorCodes.INVALID_OPTION)
        assert.match(
          (error as Error).message,
          new RegExp(
            `^EXOSERVICE_STARTUP_TIMEOUT="${value.replace('.', '\\.')}" must be a positive whole number of milliseconds`,
          ),
        )
        return true
      },
    )
  }
  await assert.rejects(
    startService(fixture('users-js'), { exocomPort: 1, logger: false, startupTimeout: -1 }),
    /^InvalidArgumentError: startupTimeout must be a positive whole number/,
  )
})

test("a port in use fails startup with the relay's message, and afterAll cleans up after beforeAll", async (t) => {
  const taken = createServer()
  taken.listen(0, '127.0.0.1')
  await once(taken, 'listening')
  t.after(() => taken.close())
  const port = (taken.address() as { port: number }).port
  const logger = new RecordingLogger()
  await assert.rejects(
    startService(fixture('users-ts'), { exocomPort: 1, port, logger }),
    (error) => {
      assert.equal((error as { code: string }).code, ExoServiceErrorCodes.STARTUP)
      assert.match(
        (error as Error).message,
        new RegExp(`^users: the relay could not listen: .*${port}`),
      )
      return true
    },
  )
  assert.equal(logger.find('afterAll ran').length, 1)
})

test('an afterAll that fails makes close() reject with its message; the relay closed anyway', async (t) => {
  const exocom = await mockBus(t)
  const service = await startService(fixture('after-all-fails'), {
    exocomPort: exocom.port,
    port: 0,
    logger: false,
  })
  await assert.rejects(service.close(), (error) => {
    assert.equal((error as { code: string }).code, ExoServiceErrorCodes.SHUTDOWN)
    assert.match((error as Error).message, /afterAll failed: the database did not close\./)
    return true
  })
  assert.equal(service.relay.status().state, 'closed')
  assert.equal(await isFree(service.port), true)
})

test('a handler map given as an object starts as it is: typed handlers, hooks, the serviceName option', async (t) => {
  const exocom = await mockBus(t)
  const ran: string[] = []
  type Messages = {
    'greetings.hello': { payload: string; replies: { 'greetings.said': string } }
  }
  const service = await startService(
    defineService<Messages>({
      beforeAll: () => {
        ran.push('beforeAll')
      },
      'greetings.hello': async (name, { reply }) => {
        await reply('greetings.said', `Hello, ${name}!`)
      },
      afterAll: () => {
        ran.push('afterAll')
      },
    }),
    { serviceName: 'greeter', exocomPort: exocom.port, port: 0, logger: false },
  )
  assert.equal(service.service, undefined)
  assert.equal(service.relay.serviceName, 'greeter')
  await exocom.waitForService('greeter', { timeout: WAIT })
  await exocom.send({ service: 'greeter', name: 'greetings.hello', payload: 'Ada' })
  const said = await exocom.waitForMessage('greetings.said', { timeout: WAIT })
  assert.equal(said.payload, 'Hello, Ada!')
  await service.close()
  assert.deepEqual(ran, ['beforeAll', 'afterAll'])
})

test('a handler map without a name, or with a non-function in it, is refused before anything listens', async () => {
  await assert.rejects(startService(defineService({}), { env: {}, port: 0, logger: false }), {
    code: ErrorCodes.MISSING_OPTION,
    message: /give the serviceName option, or set SERVICE_NAME/,
  })
  await assert.rejects(
    startService({ 'users.create': 'not a function' } as never, {
      serviceName: 'users',
      port: 0,
      logger: false,
    }),
    {
      code: ExoServiceErrorCodes.HANDLERS,
      message: /^the handler map of 'users': the handler for 'users\.create' must be a function/,
    },
  )
})

test('aborting the signal while beforeAll runs stops the start at once: beforeAll sees it, nothing listens', async () => {
  const stop = new AbortController()
  const logger = new RecordingLogger()
  const port = await freePort()
  const started = startService(fixture('before-all-waits'), {
    exocomPort: 1,
    port,
    logger,
    signal: stop.signal,
  })
  await withDeadline(
    logger.waitFor((entry) => entry.message === 'beforeAll started'),
    WAIT,
    () => 'beforeAll did not start',
  )
  const reason = new Error('stopped by the test')
  stop.abort(reason)
  await assert.rejects(
    withDeadline(started, WAIT, () => 'the start did not stop'),
    (error) => error === reason,
  )
  assert.equal(logger.find('beforeAll aborted').length, 1)
  assert.equal(await isFree(port), true)
  assert.equal(logger.find('online at port').length, 0)
})

test('a contract service.yml names validates each incoming payload: an invalid one is refused with the issues, and its handler does not run', async (t) => {
  const { exocom, logger } = await startFixture(t, 'users-contract')
  await exocom.waitForService('users', { timeout: WAIT })

  await exocom.send({ service: 'users', name: 'users.create', payload: { name: 42 } })
  const refused = await exocom.waitForMessage('__error', { timeout: WAIT })
  const error = refused.payload as { code: string; data: { issues: { path: string }[] } }
  assert.equal(error.code, ErrorCodes.PAYLOAD_INVALID)
  assert.deepEqual(
    error.data.issues.map((issue) => issue.path),
    ['name'],
  )
  assert.equal(exocom.receivedMessages.filter((m) => m.name === 'users.created').length, 0)
  assert.equal(logger.find('payload invalid: refused', 'warn').length, 1)

  await exocom.send({ service: 'users', name: 'users.create', payload: { name: 'Ada' } })
  const created = await exocom.waitForMessage('users.created', { timeout: WAIT })
  assert.deepEqual(created.payload, { id: 1, name: 'Ada' })
  // server.ts gives defineService the contract service.yml names: one contract, no warning.
  assert.deepEqual(
    logger.entries.filter(({ message }) => message?.startsWith('two contracts')),
    [],
  )
})

test("service.yml's contract and another one given to defineService: one warning naming both and which wins", async (t) => {
  const { exocom, logger } = await startFixture(t, 'users-two-contracts')
  const warnings = logger.entries.filter(
    ({ level, message }) => level === 'warn' && message?.startsWith('two contracts'),
  )
  assert.equal(warnings.length, 1)
  assert.match(
    warnings[0]!.message ?? '',
    /^two contracts: \S+users-two-contracts\/service\.yml names src\/contract\.ts, and \S+users-two-contracts\/src\/server\.ts gives defineService another \(messages only one of them defines: 'users\.delete'\)\. service\.yml's wins: /,
  )
  // service.yml's wins: its schema refuses an empty name, which the other takes.
  await exocom.waitForService('users', { timeout: WAIT })
  await exocom.send({ service: 'users', name: 'users.create', payload: { name: '' } })
  const refused = await exocom.waitForMessage('__error', { timeout: WAIT })
  assert.equal((refused.payload as { code: string }).code, ErrorCodes.PAYLOAD_INVALID)
})

test('a handler map made by defineService(contract, …) carries its contract: startService validates with it', async (t) => {
  const exocom = await mockBus(t)
  const { contract } = await import('./fixtures/run/users-contract/src/contract.js')
  let ran = 0
  const map = defineService(contract, {
    'users.create': (user, { reply }) => {
      ran++
      reply('users.created', { id: 1, name: user.name })
    },
  })
  // The map keeps message names and hooks as its keys: the contract is no handler.
  assert.deepEqual(Object.keys(map), ['users.create'])
  const service = await startService(map, {
    serviceName: 'users',
    exocomPort: exocom.port,
    port: 0,
    logger: false,
  })
  t.after(() => service.close())
  await exocom.waitForService('users', { timeout: WAIT })
  await exocom.send({ service: 'users', name: 'users.create', payload: { name: '' } })
  const refused = await exocom.waitForMessage('__error', { timeout: WAIT })
  assert.equal((refused.payload as { code: string }).code, ErrorCodes.PAYLOAD_INVALID)
  assert.equal(ran, 0)
})

test('defineService(x, handlers) with an x that is no contract is refused, naming defineContract', () => {
  assert.throws(
    () => defineService({ 'users.create': {} } as never, { 'users.create': () => {} }),
    (error: Error & { code?: string }) =>
      error.code === ErrorCodes.INVALID_CONTRACT && /defineContract/.test(error.message),
  )
})
