import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { describe, test } from 'node:test'
import { type ExoCom, startExoCom } from '@exorelay/exocom'
import { freePort, RecordingLogger } from '@exorelay/testing'
import {
  ErrorCodes,
  ExoRelay,
  type ExoRelayError,
  type ExoRelayOptions,
  MemoryBus,
} from '../src/index.js'

type After = { after: (fn: () => Promise<unknown>) => void }

/** A relay with a recording logger, closed after the test. */
function recordedRelay(
  t: After,
  options: ExoRelayOptions,
): { relay: ExoRelay; log: RecordingLogger } {
  const log = new RecordingLogger()
  const relay = new ExoRelay({ port: 0, ...options, logger: log })
  t.after(() => relay.close())
  return { relay, log }
}

describe('a bus outage', () => {
  test('logs one warning with the code and the URL and no stack, then one info line once registered again', async (t) => {
    let bus: ExoCom = await startExoCom({ port: 0, logger: false })
    const port = bus.port
    t.after(() => bus.close())
    const { relay, log } = recordedRelay(t, {
      serviceName: 'users',
      exocomPort: port,
      registerInterval: 20,
    })
    await relay.listen()
    assert.equal(relay.status().registered, true)

    await bus.close()
    const warning = await log.waitFor((entry) => entry.level === 'warn', { timeout: 10_000 })
    // Retries go on, quietly: three of them after the warning.
    for (let retries = 0; retries < 3; retries++) {
      const seen = log.at('debug').length
      await log.waitFor(
        (entry) =>
          entry.level === 'debug' &&
          entry.message === 'ExoCom still does not take the registration; retrying' &&
          log.at('debug').length > seen,
        { timeout: 10_000 },
      )
    }
    assert.equal(relay.status().registered, false)
    assert.equal(relay.status().bus, 'unreachable')

    bus = await startExoCom({ port, logger: false })
    const back = await log.waitFor(
      (entry) => entry.message?.startsWith('registered with ExoCom again') === true,
      { timeout: 10_000 },
    )

    assert.equal(log.at('warn').length, 1, 'one warning for the whole outage')
    assert.equal(warning.fields.code, ErrorCodes.BUS_UNREACHABLE)
    assert.equal(warning.fields.url, `http://localhost:${port}`)
    assert.equal(warning.fields.err, undefined, 'no error object, so no stack')
    assert.match(warning.message ?? '', /^could not register with ExoCom: /)
    assert.equal(back.level, 'info')
    assert.equal(typeof back.fields.outage, 'number')
    assert.equal(back.fields.url, `http://localhost:${port}`)
    assert.equal(relay.status().registered, true)
  })
})

describe('start order', () => {
  test('a relay started before the bus comes online, warns once, and registers once the bus is up', async (t) => {
    const port = await freePort()
    const { relay, log } = recordedRelay(t, { serviceName: 'users', exocomPort: port })
    relay.registerHandler('users.create', (user, { reply }) => reply('users.created', user))

    await relay.listen()
    assert.equal(relay.status().state, 'online')
    assert.equal(relay.status().registered, false)
    const bus = await startExoCom({ port, logger: false })
    t.after(() => bus.close())
    const registered = await log.waitFor(
      (entry) => entry.message?.startsWith('registered with ExoCom after') === true,
      { timeout: 15_000 },
    )

    assert.equal(log.at('warn').length, 1)
    assert.equal(log.at('warn')[0]?.fields.code, ErrorCodes.BUS_UNREACHABLE)
    assert.equal(registered.level, 'info')
    assert.equal(typeof registered.fields.outage, 'number')
    assert.equal(relay.status().registered, true)
    assert.deepEqual(
      bus.config().routes['users.create']?.receivers.map((receiver) => receiver.name),
      ['users'],
    )
  })
})

describe('a busy port', () => {
  test('is one log line and a coded rejection saying what to do; closing says nothing of going offline', async (t) => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    t.after(() => new Promise((resolve) => blocker.close(resolve)))
    const port = (blocker.address() as { port: number }).port
    const bus = await startExoCom({ port: 0, logger: false })
    t.after(() => bus.close())
    const { relay, log } = recordedRelay(t, { serviceName: 'users', exocomPort: bus.port })
    let offline = 0
    relay.on('offline', () => offline++)

    const error = await relay.listen(port).then(
      () => assert.fail('listen should have failed'),
      (err: ExoRelayError) => err,
    )
    await relay.close()

    assert.equal(error.code, ErrorCodes.ADDRESS_IN_USE)
    assert.match(error.message, new RegExp(`^Port ${port} is already in use on 127\\.0\\.0\\.1\\.`))
    assert.match(error.message, /EXORELAY_PORT/)
    assert.match(error.message, /port 0/)
    const lines = log.entries.filter((entry) => entry.level !== 'debug')
    assert.deepEqual(
      lines.map((entry) => [entry.level, entry.message, entry.fields.code]),
      [['error', error.message, ErrorCodes.ADDRESS_IN_USE]],
    )
    assert.equal(offline, 0)
  })
})

describe('relay.status()', () => {
  test('has the bus and registered fields of GET /status, with the same values', async (t) => {
    const bus = await startExoCom({ port: 0, logger: false })
    t.after(() => bus.close())
    const { relay } = recordedRelay(t, { serviceName: 'users', exocomPort: bus.port })
    const port = await relay.listen()

    const served = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as Record<
      string,
      unknown
    >
    const status = relay.status()

    assert.equal(status.bus, 'reachable')
    assert.equal(status.registered, true)
    assert.deepEqual({ ...status }, served)
  })

  test('has them with any transport: the memory bus is reachable, and routes to a listening relay', async (t) => {
    const relay = new ExoRelay({
      serviceName: 'users',
      transport: new MemoryBus().transport(),
      logger: false,
    })
    t.after(() => relay.close())
    assert.deepEqual([relay.status().bus, relay.status().registered], ['reachable', false])
    await relay.listen()
    assert.deepEqual([relay.status().bus, relay.status().registered], ['reachable', true])
  })
})
