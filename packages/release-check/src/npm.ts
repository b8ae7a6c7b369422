import { execFile } from 'node:child_process'

export interface NpmResult {
  readonly exitCode: number
  readonly stdout: string
  /** stdout and stderr together, as a user sees them. */
  readonly output: string
}

export interface NpmOptions {
  readonly cwd: string
  /** npm's only user config file; without it, the user's ~/.npmrc as usual. */
  readonly userconfig?: string
  /** npm's cache folder; without it, the user's (~/.npm). */
  readonly cache?: string
  readonly timeout: number
}

/**
 * Runs npm in `cwd` as a user would in a shell of their own: without the `npm_*` variables of
 * the npm that runs this test (`npm_config_local_prefix` would make npm work on the package
 * that runs the test instead of `cwd`), nor the test runner's NODE_TEST_CONTEXT (with it, a
 * `node --test` that npm runs reports to this runner instead of printing its results). Never
 * throws: a failure shows its whole output.
 */
export function npm(args: readonly string[], options: NpmOptions): Promise<NpmResult> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(npm_|NODE_TEST_CONTEXT$)/i.test(name)),
  )
  const config = [
    ...(options.userconfig === undefined ? [] : ['--userconfig', options.userconfig]),
    ...(options.cache === undefined ? [] : ['--cache', options.cache]),
  ]
  return new Promise((resolve) => {
    execFile(
      'npm',
      [...args, ...config, '--no-audit', '--no-fund', '--no-update-notifier'],
      {
        cwd: options.cwd,
        env,
        timeout: options.timeout,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const exitCode = error === null ? 0 : typeof error.code === 'number' ? error.code : 1
        resolve({ exitCode, stdout, output: `${stdout}${stderr}` })
      },
    )
  })
}
