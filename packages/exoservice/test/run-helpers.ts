import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { withDeadline } from '@exorelay/testing'

export const packageDir = fileURLToPath(new URL('..', import.meta.url))
// The committed bin, which runs the CLI built into dist/ (tests run after the build).
const binFile = join(packageDir, 'bin', 'exoservice.js')

/** The folder of a fixture service under test/fixtures/run/. */
export function fixture(name: string): string {
  return join(packageDir, 'test', 'fixtures', 'run', name)
}

// Starting a process that loads TypeScript through tsx takes seconds on a slow CI machine.
export const CLI_TIMEOUT = 30_000

/** The environment of a spawned `exoservice`: JSON logs, and none of the caller's relay settings. */
function childEnv(extra: Record<string, string>): Record<string, string | undefined> {
  const {
    SERVICE_NAME: _name,
    EXOCOM_PORT: _exocomPort,
    EXORELAY_PORT: _port,
    EXOSERVICE_STARTUP_TIMEOUT: _timeout,
    ...env
  } = process.env
  return { ...env, LOG_FORMAT: 'json', ...extra }
}

/** A running `exoservice` process, its stdout kept as lines. */
export interface ExoserviceProcess {
  child: ChildProcess
  /** Every stdout line so far. */
  lines: string[]
  /** Everything on stderr so far. */
  stderr: () => string
  /** Resolves with the first JSON log line whose `msg` matches; rejects after `CLI_TIMEOUT`. */
  waitForLog: (match: RegExp) => Promise<Record<string, unknown>>
  /** Resolves with the exit code (or the signal) once the process ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Spawns `exoservice <args>` through the bin. */
export function startExoservice(
  args: string[],
  env: Record<string, string> = {},
): ExoserviceProcess {
  const child = spawn(process.execPath, [binFile, ...args], {
    cwd: packageDir,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  const changed = new EventTarget()
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line)
    changed.dispatchEvent(new Event('line'))
  })
  let stderr = ''
  child.stderr.on('data', (chunk) => {
    stderr += chunk
  })
  const exited = once(child, 'close').then(([code, signal]) => {
    changed.dispatchEvent(new Event('line'))
    return { code: code as number | null, signal: signal as NodeJS.Signals | null }
  })
  let ended = false
  void exited.then(() => {
    ended = true
  })
  const waitForLog = (match: RegExp): Promise<Record<string, unknown>> => {
    const find = (): Record<string, unknown> | undefined =>
      lines
        .map((line) => {
          try {
            return JSON.parse(line) as Record<string, unknown>
          } catch {
            return {}
          }
        })
        .find((entry) => typeof entry.msg === 'string' && match.test(entry.msg))
    const found = new Promise<Record<string, unknown>>((resolve, reject) => {
      const check = (): void => {
        const entry = find()
        if (entry !== undefined) {
          changed.removeEventListener('line', check)
          resolve(entry)
        } else if (ended) {
          changed.removeEventListener('line', check)
          reject(new Error(`exoservice ended without logging ${match}; stderr: ${stderr}`))
        }
      }
      changed.addEventListener('line', check)
      check()
    })
    return withDeadline(
      found,
      CLI_TIMEOUT,
      () => `exoservice logged nothing matching ${match} (it logged: ${lines.join(' ')})`,
    )
  }
  return { child, lines, stderr: () => stderr, waitForLog, exited }
}

/** Runs `exoservice <args>` to its end and collects its output. */
export async function runExoservice(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const running = startExoservice(args, env)
  const { code } = await withDeadline(
    running.exited,
    CLI_TIMEOUT,
    () => `exoservice ${args.join(' ')} did not exit (stderr: ${running.stderr()})`,
  )
  return { code, stdout: running.lines.join('\n'), stderr: running.stderr() }
}
