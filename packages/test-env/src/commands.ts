import { spawn } from 'node:child_process'

/** What a command printed and how it ended. */
export interface CommandResult {
  readonly code: number | null
  readonly output: string
}

/** Runs a program, as the tools of this package do: overridable in tests. */
export type RunCommand = (
  command: string,
  args: readonly string[],
  options?: { readonly env?: NodeJS.ProcessEnv; readonly timeoutMs?: number },
) => Promise<CommandResult>

/**
 * Runs `command` with its output collected (stdout and stderr interleaved), killed after
 * `timeoutMs` (default 10 minutes: an `apt-get install` on a slow mirror), never rejecting:
 * a program that cannot start is exit code `null` with the reason as its output.
 */
export const runCommand: RunCommand = (command, args, options = {}) =>
  new Promise((resolve) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 600_000,
    })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk
    })
    child.on('error', (error) => resolve({ code: null, output: error.message }))
    child.on('close', (code) => resolve({ code, output }))
  })

/** The last non-empty line of a program's output: what to show of a failure in one line. */
export function lastLine(output: string): string {
  const lines = output.split('\n').filter((line) => line.trim() !== '')
  return lines.at(-1)?.trim() ?? '(no output)'
}
