import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { type ExoCom, startExoCom } from '@exorelay/exocom'
import { withDeadline } from '@exorelay/testing'
import { ExoRelay } from '../src/index.js'

/** The committed bin: the tests run the command as a user does, against dist/ (built first). */
export const bin = fileURLToPath(new URL('../bin/exorelay.js', import.meta.url))

/** What a command printed and how it exited. */
export interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * The environment of a command: this one's without the bus's variables (the flags or `env`
 * decide), NODE_TEST_CONTEXT or colours.
 */
function commandEnv(env: Record<string, string>): Record<string, string | undefined> {
  const {
    EXOCOM_HOST: _host,
    EXOCOM_PORT: _port,
    EXOCOM_TOKEN: _token,
    NODE_TEST_CONTEXT: _context,
    FORCE_COLOR: _colour,
    ...rest
  } = process.env
  return { ...rest, ...env }
}

/** Starts `exorelay args…` with stdout and stderr piped. */
export function startCli(args: readonly string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [bin, ...args], {
    env: commandEnv(env),
    stdio: ['pipe', 'pipe', 'pipe'],
  })
}

/** Runs `exorelay args…` to its end with `stdin` as its input; fails after 30 s. */
export async function runCli(
  args: readonly string[],
  { env = {}, stdin = '' }: { env?: Record<string, string>; stdin?: string } = {},
): Promise<Run> {
  const child = startCli(args, env)
  const result: Run = { code: null, stdout: '', stderr: '' }
  child.stdout!.on('data', (chunk) => {
    result.stdout += chunk
  })
  child.stderr!.on('data', (chunk) => {
    result.stderr += chunk
  })
  child.stdin!.end(stdin)
  try {
    const [code] = (await withDeadline(
      once(child, 'close'),
      30_000,
      () =>
        `exorelay ${args.join(' ')} did not end (stdout: ${result.stdout}, stderr: ${result.stderr})`,
    )) as [number | null]
    return { ...result, code }
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  }
}

/** The bus on a free port and a `users` service on it, both closed after the test. */
export async function startLandscape(t: {
  after(fn: () => unknown): void
}): Promise<{ bus: ExoCom; users: ExoRelay; busPort: string }> {
  const bus = await startExoCom({ port: 0, logger: false })
  t.after(() => bus.close())
  const users = new ExoRelay({
    serviceName: 'users',
    exocomPort: bus.port,
    port: 0,
    logger: false,
  })
  t.after(() => users.close())
  return { bus, users, busPort: String(bus.port) }
}

/** A port nothing listens on: a bus's, just closed. */
export async function closedPort(): Promise<string> {
  const bus = await startExoCom({ port: 0, logger: false })
  await bus.close()
  return String(bus.port)
}

/** The lines a running command prints on stdout, awaited one by one with a deadline. */
export function lineReader(child: ChildProcess): (what: string) => Promise<string> {
  const lines = createInterface({ input: child.stdout! })
  const waiting: ((line: string) => void)[] = []
  const ready: string[] = []
  lines.on('line', (line) => {
    const next = waiting.shift()
    if (next === undefined) ready.push(line)
    else next(line)
  })
  return (what) => {
    const line = ready.shift()
    if (line !== undefined) return Promise.resolve(line)
    return withDeadline(
      new Promise<string>((resolve) => waiting.push(resolve)),
      30_000,
      () => `no line on stdout: ${what}`,
    )
  }
}
