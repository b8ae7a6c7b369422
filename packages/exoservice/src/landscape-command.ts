import { parseApplicationArgs } from './application-args.js'
import { APPLICATION_FILE_NAME } from './application-file.js'
import { checkApplication } from './check-command.js'
import { isExoServiceError } from './errors.js'
import {
  BUS_NAME,
  DEFAULT_START_TIMEOUT,
  DEFAULT_STOP_GRACE,
  type Landscape,
  startLandscape,
  usesNats,
} from './landscape.js'
import { formatFindings } from './landscape-check.js'
import { describeExit } from './service-process.js'
import { stopOnSignals } from './stop-on-signals.js'

// `exoservice landscape`: the programmatic runner (landscape.ts) plus the terminal: usage, the
// banner, Ctrl-C, and the one-line reports on stderr.

const USAGE = `Usage: exoservice landscape [file] [options]

Runs a landscape: checks it first as \`exoservice check\` does (its findings are warnings),
then starts ExoCom with a routing table built from the services' service.yml
files, then every service the application file lists, each with SERVICE_NAME, EXOCOM_HOST,
EXOCOM_PORT and EXORELAY_PORT set; prefixes each line with the service's name. Ctrl-C stops
the services, then the bus; a second Ctrl-C kills them at once (exit 128 + the signal's
number). When a service exits on its own, the runner stops the others and exits 1. With
EXORELAY_TRANSPORT=nats (and NATS_URL) no bus is started. Linux and macOS only.

Arguments:
  file               the application file (default: ${APPLICATION_FILE_NAME})

Options:
  --port <n>         the bus's port (default: bus.port in the file, then env EXOCOM_PORT,
                     then 3100; 0 = any free port); ignored with EXORELAY_TRANSPORT=nats
  --start-timeout <ms>
                     how long each service may take to print its online text
                     (default ${DEFAULT_START_TIMEOUT})
  --stop-grace <ms>  how long each service may take to exit after SIGTERM before it is
                     killed (default ${DEFAULT_STOP_GRACE})
  --strict           any finding of the check is fatal: nothing is started (exit 1)
  -h, --help         show this help
`

/** `exoservice landscape [file] [--port n]`. Resolves with the exit code. */
export async function landscapeCommand(args: string[]): Promise<number> {
  const parsed = parseApplicationArgs('landscape', USAGE, args, {
    port: { type: 'string' },
    'start-timeout': { type: 'string' },
    'stop-grace': { type: 'string' },
    strict: { type: 'boolean' },
  })
  if (typeof parsed === 'number') return parsed
  const { values, file } = parsed
  let busPort: number | undefined
  if (values.port !== undefined) {
    busPort = Number(values.port)
    if (values.port.trim() === '' || !Number.isInteger(busPort) || busPort < 0 || busPort > 65535) {
      process.stderr.write(
        `exoservice landscape: --port must be a port number from 0 to 65535, got '${values.port}'.\n\n${USAGE}`,
      )
      return 2
    }
  }
  const durations: { startTimeout?: number; stopGrace?: number } = {}
  for (const [flag, option] of [
    ['start-timeout', 'startTimeout'],
    ['stop-grace', 'stopGrace'],
  ] as const) {
    const text = values[flag]
    if (text === undefined) continue
    const ms = /^\d+$/.test(text) ? Number(text) : Number.NaN
    if (!(ms > 0 && ms <= 2_147_483_647)) {
      process.stderr.write(
        `exoservice landscape: --${flag} must be a positive whole number of milliseconds, got '${text}'.\n\n${USAGE}`,
      )
      return 2
    }
    durations[option] = ms
  }

  if (busPort !== undefined && usesNats(process.env)) {
    process.stderr.write(
      'exoservice landscape: --port is ignored: with EXORELAY_TRANSPORT=nats no bus is started.\n',
    )
  }

  // The check, before anything starts: a file or a contract module that cannot be read stops
  // here, as it would stop the service that reads it.
  try {
    const { findings, services } = await checkApplication(file)
    if (findings.length > 0) {
      // The summary line says what follows from the findings.
      const lines = formatFindings(findings, services).trimEnd().split('\n')
      lines[lines.length - 1] += values.strict
        ? ': nothing started (--strict)'
        : '; starting anyway (--strict would stop here)'
      process.stderr.write(lines.map((line) => `exoservice landscape: ${line}\n`).join(''))
      if (values.strict) return 1
    }
  } catch (error) {
    if (!isExoServiceError(error)) throw error
    process.stderr.write(`exoservice landscape: ${error.message}\n`)
    return 1
  }

  // The first signal stops the landscape (or its start); a second one kills at once.
  const signals = stopOnSignals({
    onStop: (signal) => process.stdout.write(`exoservice landscape: ${signal}: stopping\n`),
    onKill: (signal) =>
      process.stderr.write(`exoservice landscape: ${signal} again: killing the services\n`),
  })
  try {
    let landscape: Landscape
    try {
      landscape = await startLandscape({ file, busPort, ...durations, signal: signals.signal })
    } catch (error) {
      if (error === signals.signal.reason) {
        process.stdout.write('exoservice landscape: stopped\n')
        return 0
      }
      if (!isExoServiceError(error)) throw error
      process.stderr.write(`exoservice landscape: ${error.message}\n`)
      return 1
    }
    signals.attach(landscape)
    process.stdout.write(banner(landscape))
    const end = await landscape.stopped
    if (end.reason === 'stopped') {
      process.stdout.write('exoservice landscape: stopped\n')
      return 0
    }
    const said =
      end.lastLines.length === 0
        ? 'It printed nothing.'
        : `Its last lines:\n${end.lastLines.map((line) => `  ${end.name} | ${line}`).join('\n')}`
    process.stderr.write(
      `exoservice landscape: ${end.name} ${describeExit(end.status)}; stopped the others and the bus. ${said}\n`,
    )
    return 1
  } finally {
    signals.dispose()
  }
}

/**
 * Where everything is, in one piece of text (one write, so that no service's line splits it):
 * the bus's address and each service's port; over NATS, no bus and only the ports the services
 * named themselves.
 */
function banner(landscape: Landscape): string {
  const width = Math.max(BUS_NAME.length, ...landscape.services.map(({ name }) => name.length))
  return [
    '',
    `${landscape.name ?? 'The landscape'} is running.`,
    landscape.busPort === undefined
      ? '  bus: NATS (NATS_URL)'
      : `  ${BUS_NAME.padEnd(width)}  http://127.0.0.1:${landscape.busPort}`,
    ...landscape.services.map(({ name, port }) =>
      port === undefined ? `  ${name}` : `  ${name.padEnd(width)}  port ${port}`,
    ),
    'Press Ctrl-C to stop.',
    '',
    '',
  ].join('\n')
}
