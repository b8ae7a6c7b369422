import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import pretty from 'pino-pretty'
import { createLineWriter, type LogRecord, type OutputLine } from './log-output.js'
import { describeExit, ServiceProcess, StartError } from './service-process.js'
import { spanOf } from './span-lines.js'
import { TraceTrees } from './trace-trees.js'

// The launcher of the example landscape: the bus, then the three services, one process each.
// It is a command-line program, so it writes to the console directly.

/** How long a child may take to report ready: tsx compiles on the first start. */
const START_TIMEOUT = 30_000
/** How long a child may take to stop after SIGTERM before it gets SIGKILL. */
const STOP_GRACE = 5_000

const examples = new URL('../../', import.meta.url)
const terminal = process.stdout.isTTY === true
const writeLine = createLineWriter({
  pretty: terminal,
  colors: terminal && pretty.isColorSupported,
  nameWidth: 'passwords'.length,
  write: (text) => process.stdout.write(text),
})
const children: ServiceProcess[] = []
/** Loaded into each service with OTEL_TRACES_EXPORTER=console: it prints the spans. */
const tracePreload = new URL('./trace-to-console.ts', import.meta.url).href
// Set by main() when the services trace: their spans are drawn here, one tree per trace.
let traces: TraceTrees | undefined

function say(message: string): void {
  process.stdout.write(`${message}\n`)
}

function complain(message: string): void {
  process.stderr.write(`landscape: ${message}\n`)
}

interface ServiceSpec {
  name: string
  args: string[]
  cwd: string
  env: Record<string, string>
  isReady: (record: LogRecord) => boolean
}

function startService(spec: ServiceSpec): ServiceProcess {
  const child = new ServiceProcess({
    ...spec,
    // The launcher reads each child's JSON lines, whatever LOG_FORMAT the shell has.
    env: { ...process.env, ...spec.env, LOG_FORMAT: 'json' },
    startTimeout: START_TIMEOUT,
    onLine,
  })
  children.push(child)
  return child
}

/** A child's line: a span goes to its trace's tree, anything else to the console. */
function onLine(line: OutputLine): void {
  const span = spanOf(line.record)
  if (traces !== undefined && span !== undefined) traces.add(line.service, span)
  else writeLine(line)
}

/**
 * A service of this landscape: `node --import tsx <dir>/src/main.ts`, with the trace preload
 * when the services trace.
 */
function exampleService(name: string, env: Record<string, string>): ServiceSpec {
  const cwd = fileURLToPath(new URL(`${name}/`, examples))
  const preload = traces === undefined ? [] : ['--import', tracePreload]
  return {
    name,
    args: ['--import', 'tsx', ...preload, 'src/main.ts'],
    cwd,
    env: { SERVICE_NAME: name, ...env },
    isReady: (record) => record.msg === 'ready',
  }
}

/** The `exocom` bin of @exorelay/exocom, found through the package as Node resolves it. */
function exocomBin(): string {
  const entry = import.meta.resolve('@exorelay/exocom')
  const manifestUrl = new URL('../package.json', entry)
  const manifest = JSON.parse(readFileSync(manifestUrl, 'utf8')) as {
    name?: string
    bin?: Record<string, string>
  }
  const bin = manifest.bin?.exocom
  if (manifest.name !== '@exorelay/exocom' || bin === undefined) {
    throw new Error(`Cannot find the exocom command next to '${fileURLToPath(entry)}'.`)
  }
  return fileURLToPath(new URL(bin, manifestUrl))
}

function portFromEnv(variable: string, fallback: number): number {
  const value = process.env[variable]
  if (value === undefined || value === '') return fallback
  const port = Number(value)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`${variable} must be a port number from 0 to 65535, got '${value}'.`)
  }
  return port
}

/**
 * Resolves with the first stop signal. Later ones are ignored: the stop is already under way
 * and bounded by the grace period.
 */
function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(signal, () => resolve(signal))
    }
  })
}

/**
 * `EXORELAY_TRANSPORT=nats` with `NATS_URL` runs the same services on a NATS server you
 * started (the services read both variables themselves), instead of the bundled bus.
 */
function overNats(): boolean {
  if (process.env.EXORELAY_TRANSPORT !== 'nats') return false
  if (!process.env.NATS_URL) {
    throw new Error(
      'EXORELAY_TRANSPORT=nats needs NATS_URL, e.g. nats://127.0.0.1:4222 of a running nats-server',
    )
  }
  return true
}

/**
 * `OTEL_TRACES_EXPORTER=console`, OpenTelemetry's own variable, makes every service trace and
 * print its spans, which this launcher draws as one tree per trace.
 */
function tracesToConsole(): boolean {
  const exporter = process.env.OTEL_TRACES_EXPORTER
  if (exporter === undefined || exporter === '' || exporter === 'none') return false
  if (exporter === 'console') return true
  // Often set in an OpenTelemetry user's shell for other programs: worth a word, not a stop.
  complain(
    `OTEL_TRACES_EXPORTER=${exporter} is ignored: the example landscape prints traces to the console only (OTEL_TRACES_EXPORTER=console); it runs without traces.`,
  )
  return false
}

/** Starts the bundled bus on EXOCOM_PORT and returns what the services need to reach it. */
async function startBus(
  whileRunning: <T>(promise: Promise<T>) => Promise<T>,
): Promise<Record<string, string>> {
  const busPort = portFromEnv('EXOCOM_PORT', 3100)
  const bus = startService({
    name: 'exocom',
    args: [exocomBin(), '--port', String(busPort)],
    cwd: fileURLToPath(examples),
    env: {},
    isReady: (record) => typeof record.msg === 'string' && record.msg.startsWith('ExoCom online'),
  })
  // With EXOCOM_PORT=0 the bus picks a port; its ready line says which.
  const busRecord = await whileRunning(bus.ready)
  return { EXOCOM_HOST: '127.0.0.1', EXOCOM_PORT: String(busRecord.port ?? busPort) }
}

/** A stop signal ended the start; not a failure. */
class Stopped extends Error {}

async function main(): Promise<number> {
  const stopped = stopSignal()
  const whileRunning = <T>(promise: Promise<T>): Promise<T> =>
    Promise.race([
      promise,
      stopped.then((signal) => {
        throw new Stopped(signal)
      }),
    ])

  let exitCode = 0
  try {
    const apiPort = portFromEnv('PORT', 3000)
    if (tracesToConsole()) {
      traces = new TraceTrees({
        // One write, so that a tree is never split by another child's line.
        print: (lines) =>
          writeLine({
            service: 'trace',
            text: lines.join('\n'),
            record: undefined,
            stream: 'stdout',
          }),
      })
    }
    const relayEnv = overNats() ? {} : await startBus(whileRunning)

    // The services register with the bus when they go online, so their order does not matter.
    const passwords = startService(exampleService('passwords', { ...relayEnv, EXORELAY_PORT: '0' }))
    const users = startService(exampleService('users', { ...relayEnv, EXORELAY_PORT: '0' }))
    const web = startService(exampleService('web', { ...relayEnv, PORT: String(apiPort) }))
    const [, , webRecord] = await whileRunning(
      Promise.all([passwords.ready, users.ready, web.ready]),
    )

    const api = `http://localhost:${webRecord.port ?? apiPort}`
    // One write, so that the banner is never split by a child's line.
    say(
      [
        '',
        'ExoRelay example landscape is running.',
        `  API:  ${api}`,
        `  Try:  curl -s -X POST ${api}/users -H 'content-type: application/json' -d '{"name":"Will Riker","password":"secret"}'`,
        `  Then: curl -s ${api}/users`,
        ...(traces === undefined
          ? []
          : ["  Traces: one tree per request, in the lines marked 'trace'"]),
        'Press Ctrl-C to stop.',
        '',
      ].join('\n'),
    )

    const ended = await Promise.race([
      stopped.then((signal) => ({ signal })),
      ...children.map((child) => child.exited.then((status) => ({ child, status }))),
    ])
    if ('signal' in ended) {
      say(`landscape: ${ended.signal}: stopping`)
    } else {
      const { child, status } = ended
      complain(
        `${child.name} stopped unexpectedly: it ${describeExit(status)}${lastErrorOf(child)}; stopping the others`,
      )
      exitCode = 1
    }
  } catch (error) {
    if (error instanceof Stopped) {
      say(`landscape: ${error.message} while starting: stopping`)
    } else {
      const others = children.some((child) => child.running) ? '; stopping the others' : ''
      complain(`${startFailure(error)}${others}`)
      exitCode = 1
    }
  }

  // Services first, so the bus is still there to see them withdraw; the bus last.
  const [bus, ...services] = children
  await Promise.all(services.map((child) => stopChild(child)))
  traces?.flush()
  if (bus !== undefined) {
    await stopChild(bus)
    say('landscape: stopped')
  }
  return exitCode
}

async function stopChild(child: ServiceProcess): Promise<void> {
  const wasRunning = child.running
  const status = await child.stop(STOP_GRACE)
  if (wasRunning && status.signal === 'SIGKILL') {
    complain(`${child.name} did not stop within ${STOP_GRACE / 1000} s and was killed`)
  }
}

function startFailure(error: unknown): string {
  if (error instanceof StartError) {
    const child = children.find((candidate) => candidate.name === error.service)
    return `${error.message}${child === undefined ? '' : lastErrorOf(child)}`
  }
  return `could not start: ${error instanceof Error ? error.message : String(error)}`
}

// The variable that moves each process's port, for a start that failed on a busy one.
const PORT_VARIABLES: Readonly<Record<string, string>> = {
  exocom: 'EXOCOM_PORT=4100',
  web: 'PORT=8080',
}

function lastErrorOf(child: ServiceProcess): string {
  if (child.lastError === undefined) return ''
  const variable = PORT_VARIABLES[child.name]
  const busy = variable !== undefined && /ADDRESS_IN_USE|EADDRINUSE/.test(child.lastError)
  const hint = busy
    ? `; another program holds the port: choose a free one, e.g. ${variable} npm start`
    : ''
  return ` (last error: ${child.lastError})${hint}`
}

// Whatever happens to the launcher, it must not leave its children running.
process.on('exit', () => {
  for (const child of children) child.kill()
})

main().then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    complain(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    process.exitCode = 1
  },
)
