import { spawn } from 'node:child_process'
import { withDeadline } from '@exorelay/testing'

/** The committed bin: the tests run the CLI as a user does, against dist/ (built first). */
export const bin = new URL('../bin/exoservice.js', import.meta.url).pathname

/** What a command printed and how it exited. */
export interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Runs `command args` in `cwd` to its end, or fails after `timeout` ms with what it printed so
 * far. Never rejects on a non-zero exit: the tests assert on the code. Left out of its
 * environment: the `npm_*` variables of the npm that may run this test, so that an `npm` run
 * here works on the folder it is given rather than on this package, and NODE_TEST_CONTEXT,
 * with which a `node --test` started here would report to this test runner instead of
 * printing its results.
 */
export async function run(
  command: string,
  args: readonly string[],
  cwd: string,
  timeout = 20_000,
): Promise<Run> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(npm_|NODE_TEST_CONTEXT$)/i.test(key)),
  )
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const result: Run = { code: null, stdout: '', stderr: '' }
  child.stdout.on('data', (chunk) => {
    result.stdout += chunk
  })
  child.stderr.on('data', (chunk) => {
    result.stderr += chunk
  })
  const exited = new Promise<Run>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code) => resolve({ ...result, code }))
  })
  try {
    return await withDeadline(
      exited,
      timeout,
      () =>
        `\`${command} ${args.join(' ')}\` did not finish (stdout: ${result.stdout}, stderr: ${result.stderr})`,
    )
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  }
}

/** Runs `exoservice new …` in `cwd`. */
export function exoserviceNew(args: readonly string[], cwd: string): Promise<Run> {
  return run(process.execPath, [bin, 'new', ...args], cwd)
}
