import { constants } from 'node:os'
import { parseArgs } from 'node:util'
import { DEFAULT_STARTUP_TIMEOUT, type RunningService, startService } from './start-service.js'

const USAGE = `Usage: exoservice run [folder] [options]

Runs the service in folder (default: .): reads its service.yml, loads its handler module,
runs beforeAll, and goes online on the bus. The relay reads SERVICE_NAME (default: the
service's type), EXOCOM_HOST, EXOCOM_PORT and EXORELAY_PORT from the environment.

Options:
  --startup-timeout <ms>  how long beforeAll may take (default ${DEFAULT_STARTUP_TIMEOUT},
                          env EXOSERVICE_STARTUP_TIMEOUT)
  -h, --help              show this help

SIGINT or SIGTERM closes the service (in-flight handlers finish, then afterAll runs) and
exits 0; a second signal while it closes exits at once, with 130 (SIGINT) or 143 (SIGTERM).
`

const SIGNALS = ['SIGINT', 'SIGTERM'] as const

/**
 * `exoservice run [folder]`. Exit codes: 0 = closed on a signal, 1 = could not start or close
 * cleanly, 2 = wrong usage, 128 + the signal's number = a second signal cut the close short.
 * Once the service started, this command ends the process itself: a handle the service left
 * open (a database pool `afterAll` forgot) must not keep a stopped service running.
 */
export async function runCommand(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(args)
    if (parsed.positionals.length > 1) {
      throw new Error(`takes one folder, got ${parsed.positionals.length}.`)
    }
  } catch (error) {
    process.stderr.write(`exoservice run: ${(error as Error).message}\n\n${USAGE}`)
    return 2
  }
  const { values, positionals } = parsed
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  let startupTimeout: number | undefined
  if (values['startup-timeout'] !== undefined) {
    const text = values['startup-timeout']
    startupTimeout = /^\d+$/.test(text) ? Number(text) : Number.NaN
    if (!(startupTimeout > 0)) {
      process.stderr.write(
        `exoservice run: --startup-timeout must be a positive whole number of milliseconds, got '${text}'.\n\n${USAGE}`,
      )
      return 2
    }
  }

  // Listened for before the service starts: a landscape may stop it as soon as it is online.
  let stopping: NodeJS.Signals | undefined
  let stop: (signal: NodeJS.Signals) => void = () => {}
  const stopped = new Promise<void>((resolve) => {
    stop = (signal) => {
      if (stopping !== undefined) {
        // A second signal: the user does not want to wait for the close.
        process.stderr.write(`exoservice run: ${signal} again, exiting without waiting.\n`)
        process.exit(128 + constants.signals[signal])
      }
      stopping = signal
      resolve()
    }
  })
  for (const signal of SIGNALS) process.on(signal, stop)

  let service: RunningService
  try {
    service = await startService(positionals[0] ?? '.', {
      ...(startupTimeout === undefined ? {} : { startupTimeout }),
    })
  } catch (error) {
    return exit(1, error)
  }
  await stopped
  try {
    await service.close()
  } catch (error) {
    return exit(1, error)
  }
  return exit(0)
}

/** Ends the process: a failure is one line on stderr, never a stack. */
function exit(code: number, error?: unknown): never {
  if (error !== undefined) {
    process.stderr.write(
      `exoservice run: ${error instanceof Error ? error.message : String(error)}\n`,
    )
  }
  process.exit(code)
}

function parse(args: string[]) {
  return parseArgs({
    args,
    options: {
      'startup-timeout': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: true,
  })
}
