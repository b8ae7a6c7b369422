import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { getEventListeners } from 'node:events'
import { test } from 'node:test'
import { withDeadline } from '@exorelay/testing'
import {
  ExoServiceErrorCodes,
  type Landscape,
  type OutputLine,
  startLandscape,
} from '../src/index.js'
import { fixture, processesWith, testRelay } from './landscape-helpers.js'
import { isFree } from './ports.js'

// tsx compiles each service on its first start, slowly on a 2-core CI machine.
const START = 60_000

/** Starts a fixture's landscape, its lines collected; stopped after the test. */
async function start(
  t: { after: (fn: () => Promise<void>) => void },
  name: string,
  options: { startTimeout?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<{ landscape: Landscape; lines: OutputLine[] }> {
  const lines: OutputLine[] = []
  const landscape = await withDeadline(
    // Any free port: 3100, the default, may be another landscape's on this machine.
    startLandscape({
      file: fixture(name),
      busPort: 0,
      onLine: (line) => lines.push(line),
      ...options,
    }),
    START,
    () => `the landscape ${name} did not start`,
  )
  t.after(() => landscape.stop())
  return { landscape, lines }
}

test('the runner starts the bus and the services from files, and a request is routed through it to a reply', async (t) => {
  const { landscape, lines } = await start(t, 'two-services')
  assert.equal(landscape.name, 'two-services')
  assert.deepEqual(
    landscape.services.map(({ name }) => name),
    ['users', 'passwords', 'ledger'],
  )
  const relay = await testRelay(t, landscape.busPort!)
  // tester -> users; users -> passwords and back; users -> tester.
  const created = await relay.send(
    'users.create',
    { name: 'Will', password: 'secret' },
    { timeout: 10_000 },
  )
  assert.deepEqual(created, { name: 'Will', password: 'terces' })
  assert.ok(lines.some((line) => line.service === 'users' && line.record?.msg === 'created Will'))
})

test("the bus's routing table holds every service of the application file, from its service.yml", async (t) => {
  const { landscape } = await start(t, 'two-services')
  const response = await fetch(`http://127.0.0.1:${landscape.busPort}/config.json`)
  const config = (await response.json()) as {
    services: Record<string, { host: string; port: number; source: string }>
    routes: Record<string, { receivers: { name: string }[] }>
  }
  // The ledger is no relay: it never registers, so its entry is the runner's alone.
  const ledger = landscape.services.find(({ name }) => name === 'ledger')!
  const { host, port, source } = config.services.ledger!
  assert.deepEqual(
    { host, port, source },
    { host: '127.0.0.1', port: ledger.port, source: 'configured' },
  )
  assert.deepEqual(
    config.routes['ledger.append']?.receivers.map(({ name }) => name),
    ['ledger'],
  )
  for (const { name, port } of landscape.services) {
    assert.equal(config.services[name]?.port, port, `${name} is at the port the runner gave it`)
  }
  // Probed while the bus listened, all at once: distinct, and none is the bus's.
  const ports = landscape.services.map(({ port }) => port)
  assert.equal(new Set([landscape.busPort, ...ports]).size, ports.length + 1, ports.join(' '))
  assert.deepEqual(
    config.routes['users.create']?.receivers.map(({ name }) => name),
    ['users'],
  )
})

test("every line reaches onLine with the name of the process that wrote it, the bus's as 'exocom'", async (t) => {
  const { landscape, lines } = await start(t, 'two-services')
  const users = landscape.services.find(({ name }) => name === 'users')!
  assert.equal(users.online.service, 'users')
  assert.equal(users.online.record?.msg, `online at port ${users.port}`)
  // A plain-text line counts too: the ledger prints no JSON.
  const ledger = landscape.services.find(({ name }) => name === 'ledger')!
  assert.deepEqual(ledger.online, {
    service: 'ledger',
    text: `online at port ${ledger.port}`,
    record: undefined,
    stream: 'stdout',
  })
  assert.ok(
    lines.some(
      (line) => line.service === 'exocom' && line.record?.msg?.startsWith('ExoCom online at port'),
    ),
  )
})

test('stop() stops the services, then the bus, and leaves no port listening', async (t) => {
  const { landscape, lines } = await start(t, 'two-services')
  const ports = [landscape.busPort!, ...landscape.services.map(({ port }) => port!)]
  await withDeadline(landscape.stop(), 30_000, () => 'the landscape did not stop')
  assert.deepEqual(await landscape.stopped, { reason: 'stopped' })
  for (const port of ports) assert.ok(await isFree(port), `port ${port} is free`)
  // The bus saw the services withdraw before it went offline.
  const busLines = lines
    .filter(({ service }) => service === 'exocom')
    .map(({ record }) => record?.msg)
  const offline = busLines.indexOf('ExoCom offline')
  const withdrew = busLines.findIndex((msg) => msg?.includes("service 'users' withdrew"))
  assert.ok(withdrew !== -1 && withdrew < offline, busLines.join('\n'))
})

test('a service that exits on its own is reported with its exit code and its last lines, and the rest is stopped', async (t) => {
  const { landscape } = await start(t, 'crash')
  const ports = [landscape.busPort!, ...landscape.services.map(({ port }) => port!)]
  const relay = await testRelay(t, landscape.busPort!)
  // No reply comes: the crasher exits in its handler.
  relay.send('crasher.crash', 3).catch(() => {})
  const end = await withDeadline(landscape.stopped, 30_000, () => 'the landscape did not stop')
  assert.equal(end.reason, 'service-exited')
  assert.ok(end.reason === 'service-exited')
  assert.equal(end.name, 'crasher')
  assert.equal(end.status.code, 3)
  // The last ten, oldest first: twelve lines were logged, then one on stderr.
  assert.equal(end.lastLines.length, 10)
  assert.match(end.lastLines[0]!, /"msg":"last words 4"/)
  assert.equal(end.lastLines.at(-1), 'crashing on purpose')
  for (const port of ports) assert.ok(await isFree(port), `port ${port} is free`)
})

test('a service that exits before it is online fails the start with its code and last lines; nothing is left', async () => {
  const { error, lines } = await failedStart('broken')
  assert.equal(error.code, ExoServiceErrorCodes.STARTUP)
  assert.match(
    error.message,
    /^broken did not start: it exited with code 4 before it printed 'online at port'\. Its last lines:\n {2}broken \| cannot connect to the database\n/,
  )
  await assertStopped(lines)
})

test('a service that never prints its online text fails the start at the start timeout; nothing is left', async () => {
  const { error, lines } = await failedStart('silent', { startTimeout: 3_000 })
  assert.equal(error.code, ExoServiceErrorCodes.STARTUP)
  assert.match(
    error.message,
    /^quiet did not start: it did not print 'ready to serve' within 3 s\. Its last lines:\n {2}quiet \| warming up\n.*online-text/s,
  )
  await assertStopped(lines)
})

/** Starts a fixture's landscape that must fail to start: its error, and the lines until then. */
async function failedStart(
  name: string,
  options: { startTimeout?: number } = {},
): Promise<{ error: { code: string; message: string }; lines: OutputLine[] }> {
  const lines: OutputLine[] = []
  const error = await withDeadline(
    startLandscape({
      file: fixture(name),
      busPort: 0,
      onLine: (line) => lines.push(line),
      ...options,
    }).then(
      () => assert.fail(`the landscape ${name} started`),
      (error: unknown) => error as { code: string; message: string },
    ),
    START,
    () => `the start of ${name} did not fail`,
  )
  return { error, lines }
}

/** The bus and every service that said where it listens no longer listen there. */
async function assertStopped(lines: OutputLine[]): Promise<void> {
  const ports = lines
    .filter(({ record }) => record?.msg?.includes('online at port'))
    .map(({ record }) => record!.port as number)
  assert.ok(ports.length > 0, 'the bus at least was online')
  for (const port of ports) assert.ok(await isFree(port), `port ${port} is free`)
}

test("each service gets its name, the bus, its port, LOG_FORMAT=json, plus the caller's env and Node options", async (t) => {
  const lines: OutputLine[] = []
  const preload = new URL('fixtures/landscape/hooks/preload.mjs', import.meta.url).href
  // A launcher's signal outlives the start: the start must not leave its listener on it.
  const launcher = new AbortController()
  const landscape = await withDeadline(
    startLandscape({
      file: fixture('hooks'),
      busPort: 0,
      onLine: (line) => lines.push(line),
      nodeOptions: ['--import', preload],
      serviceEnv: ({ name }) => ({ GREETING: `hello ${name}` }),
      signal: launcher.signal,
    }),
    START,
    () => 'the landscape did not start',
  )
  t.after(() => landscape.stop())
  assert.equal(getEventListeners(launcher.signal, 'abort').length, 0)
  const echoer = lines.filter(({ service }) => service === 'echoer')
  assert.equal(echoer[0]?.text, 'preloaded')
  assert.deepEqual(echoer[1]?.record?.env, {
    SERVICE_NAME: 'echoer',
    EXOCOM_HOST: '127.0.0.1',
    EXOCOM_PORT: String(landscape.busPort),
    EXORELAY_PORT: String(landscape.services[0]?.port),
    LOG_FORMAT: 'json',
    GREETING: 'hello echoer',
  })
})

test('with EXORELAY_TRANSPORT=nats no bus is started: the services use NATS_URL', async (t) => {
  const lines: OutputLine[] = []
  // Without the variables of an ExoCom the test itself may run with (EXOCOM_PORT=0, say).
  const {
    EXOCOM_HOST: _host,
    EXOCOM_PORT: _port,
    EXORELAY_PORT: _relay,
    ...inherited
  } = process.env
  const env = { ...inherited, EXORELAY_TRANSPORT: 'nats', NATS_URL: 'nats://127.0.0.1:4222' }
  const landscape = await withDeadline(
    startLandscape({ file: fixture('hooks'), onLine: (line) => lines.push(line), env }),
    START,
    () => 'the landscape did not start',
  )
  t.after(() => landscape.stop())
  assert.equal(landscape.busPort, undefined)
  assert.ok(!lines.some(({ service }) => service === 'exocom'))
  const { env: seen } = lines.find(({ record }) => record?.msg === 'env')!.record! as {
    env: Record<string, string>
  }
  assert.equal(seen.EXOCOM_PORT, undefined)
  // No ports over NATS: none given, none shown, unless the service names its own.
  assert.equal(seen.EXORELAY_PORT, undefined)
  assert.equal(landscape.services[0]?.port, undefined)
  const announcing = await withDeadline(
    startLandscape({
      file: fixture('hooks'),
      onLine: () => {},
      env,
      serviceEnv: () => ({ ANNOUNCED_PORT: '4321' }),
    }),
    START,
    () => 'the landscape did not start',
  )
  t.after(() => announcing.stop())
  assert.equal(announcing.services[0]?.port, 4321)

  const { NATS_URL: _url, ...withoutUrl } = env
  await assert.rejects(startLandscape({ file: fixture('hooks'), env: withoutUrl }), {
    code: ExoServiceErrorCodes.STARTUP,
    message: /EXORELAY_TRANSPORT=nats needs NATS_URL/,
  })
})

test("a service with the default startup command runs through this package's own `exoservice run`", {}, async (t) => {
  const { landscape, lines } = await start(t, 'run')
  const relay = await testRelay(t, landscape.busPort!)
  assert.equal(await relay.send('ping', undefined, { timeout: 10_000 }), undefined)
  assert.ok(
    lines.some(
      ({ service, record }) => service === 'pinger' && record?.msg?.includes('online at port'),
    ),
  )
})

test('with EXOCOM_TOKEN in the environment, the bus asks for the token the services send', async (t) => {
  const token = 'landscape-secret'
  const { landscape } = await start(t, 'run', { env: { ...process.env, EXOCOM_TOKEN: token } })
  const config = `http://127.0.0.1:${landscape.busPort}/config.json`
  assert.equal((await fetch(config)).status, 401)
  const authorized = await fetch(config, { headers: { authorization: `Bearer ${token}` } })
  assert.equal(authorized.status, 200)
  // The service registered itself with the token, and answers a request that carries it.
  const relay = await testRelay(t, landscape.busPort!, { token })
  assert.equal(await relay.send('ping', undefined, { timeout: 10_000 }), undefined)
})

test('a serviceEnv that throws for the second service rejects the start, and stops the bus and the first service', {
  skip: process.platform !== 'linux' && 'reads /proc',
}, async () => {
  const marker = `EXOSERVICE_TEST_MARKER=${randomUUID()}`
  const lines: OutputLine[] = []
  const exitListeners = process.listenerCount('exit')
  await assert.rejects(
    withDeadline(
      startLandscape({
        file: fixture('two-services'),
        onLine: (line) => lines.push(line),
        serviceEnv: ({ name }) => {
          if (name === 'passwords') throw new Error('no secret for passwords')
          return { EXOSERVICE_TEST_MARKER: marker.split('=')[1]! }
        },
      }),
      START,
      () => 'the start did not fail',
    ),
    /no secret for passwords/,
  )
  await assertStopped(lines)
  assert.deepEqual(await processesWith(marker), [], 'the first service is gone')
  assert.equal(process.listenerCount('exit'), exitListeners, 'no exit hook is left')
})

test('on Windows the start fails at once, naming the limitation', async (t) => {
  const platform = Object.getOwnPropertyDescriptor(process, 'platform')!
  Object.defineProperty(process, 'platform', { ...platform, value: 'win32' })
  t.after(() => Object.defineProperty(process, 'platform', platform))
  await assert.rejects(startLandscape({ file: fixture('hooks') }), {
    code: ExoServiceErrorCodes.STARTUP,
    message: /^The landscape runner runs on Linux and macOS only: .*process group.*`sh -c`/,
  })
})

test('a service whose daemon left its process group with its pipes still stops', async (t) => {
  const { landscape, lines } = await start(t, 'escapee')
  const daemon = Number(lines.find(({ text }) => text.startsWith('daemon '))!.text.split(' ')[1])
  t.after(() => {
    try {
      process.kill(daemon, 'SIGKILL')
    } catch {
      // Gone already.
    }
  })
  // The daemon holds the service's stdout and stderr: they never close by themselves.
  await withDeadline(landscape.stop(), 30_000, () => 'the landscape did not stop')
  assert.deepEqual(await landscape.stopped, { reason: 'stopped' })
})
