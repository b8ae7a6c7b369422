import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { withDeadline } from './helpers.js'

export const packageDir = fileURLToPath(new URL('..', import.meta.url))

/**
 * Runs the CLI from source; no TTY, so it logs JSON lines. PORT, EXOCOM_TOKEN and
 * EXOCOM_CREDENTIALS are unset unless given, so the flags decide.
 */
export function startCli(args: string[], extraEnv: Record<string, string> = {}): ChildProcess {
  const {
    PORT: _port,
    EXOCOM_TOKEN: _token,
    EXOCOM_CREDENTIALS: _credentials,
    ...env
  } = process.env
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: packageDir,
    env: { ...env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

export async function run(
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = startCli(args, extraEnv)
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk) => {
    stdout += chunk
  })
  child.stderr?.on('data', (chunk) => {
    stderr += chunk
  })
  const [code] = (await once(child, 'close')) as [number | null]
  return { code, stdout, stderr }
}

// Starting the CLI through tsx takes a few seconds on a slow CI machine.
export const CLI_TIMEOUT = 30_000

/**
 * Resolves with the first JSON log line whose message starts with `prefix`; rejects naming
 * the lines seen when none comes within `timeout` ms.
 */
export async function waitForLog(
  child: ChildProcess,
  prefix: string,
  timeout = CLI_TIMEOUT,
): Promise<Record<string, unknown>> {
  const seen: string[] = []
  const lines = createInterface({ input: child.stdout! })
  const found = (async () => {
    for await (const line of lines) {
      seen.push(line)
      const entry = JSON.parse(line) as Record<string, unknown>
      if (typeof entry.msg === 'string' && entry.msg.startsWith(prefix)) return entry
    }
    throw new Error(`the CLI ended without logging '${prefix}'; it logged: ${seen.join(' ')}`)
  })()
  try {
    return await withDeadline(
      found,
      timeout,
      () => `waitForLog: the CLI logged no '${prefix}' (it logged: ${seen.join(' ') || 'nothing'})`,
    )
  } finally {
    // A timed-out wait leaves no reader behind on the child's stdout.
    lines.close()
  }
}

/** Starts the CLI, waits until it is online, and stops it after the test; all stdout is kept. */
export async function startOnline(
  t: { after(fn: () => unknown): void },
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<{ url: string; output: () => string; stop: () => Promise<void> }> {
  const child = startCli(['--port', '0', ...args], extraEnv)
  let output = ''
  const lines = createInterface({ input: child.stdout! })
  let resolveUrl: (url: string) => void = () => {}
  const online = new Promise<string>((resolve) => {
    resolveUrl = resolve
  })
  lines.on('line', (line) => {
    output += `${line}\n`
    const entry = JSON.parse(line) as { msg?: string; url?: string }
    if (entry.msg?.startsWith('ExoCom online at')) resolveUrl(entry.url as string)
  })
  child.stderr?.on('data', (chunk) => {
    output += chunk
  })
  const exited = once(child, 'close')
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const url = await withDeadline(
    online,
    CLI_TIMEOUT,
    () => `startOnline: the CLI logged no 'ExoCom online at' (output: ${output || 'none'})`,
  )
  return {
    url,
    output: () => output,
    stop: async () => {
      child.kill('SIGTERM')
      await exited
    },
  }
}
