import { once } from 'node:events'
import { parseArgs } from 'node:util'
import { registerTypeScript } from './load-handlers.js'
import { DEFAULT_STARTUP_TIMEOUT, type RunningService, startService } from './start-service.js'
import { stopOnSignals } from './stop-on-signals.js'

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

  // Listened for before the service starts: a landscape may stop it at any time. The first
  // signal stops the start (beforeAll's signal aborts) or, once online, closes the service; a
  // second one exits at once.
  const stop = stopOnSignals({
    signals: SIGNALS,
    onKill: (signal) =>
      process.stderr.write(`exoservice run: ${signal} again, exiting without waiting.\n`),
  })

  // One copy of exoservice and exorelay in this process: tsx registered for the whole process
  // lets a TypeScript handler module import the same ones this runner uses.
  await registerTypeScript()
  let service: RunningService
  try {
    service = await startService(positionals[0] ?? '.', {
      ...(startupTimeout === undefined ? {} : { startupTimeout }),
      signal: stop.signal,
    })
  } catch (error) {
    // Stopped before it was online: nothing listens, and that is what was asked.
    if (error === stop.signal.reason) return exit(0)
    return exit(1, error)
  }
  if (!stop.signal.aborted) await once(stop.signal, 'abort')
  try {
    await service.close()
  } catch (error) {
    return exit(1, error)
  }
  return exit(0)
}

/**
 * Ends the process: a failure is one line on stderr, never a stack. The exit waits for the line
 * to be written: on macOS a pipe (a landscape reading this service) is written asynchronously,
 * and a `process.exit()` right after the write can lose it.
 */
function exit(code: number, error?: unknown): Promise<never> {
  const line =
    error === undefined
      ? ''
      : `exoservice run: ${error instanceof Error ? error.message : String(error)}\n`
  // Never settles: the process ends first.
  return new Promise(() => {
    process.stderr.write(line, () => process.exit(code))
  })
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
