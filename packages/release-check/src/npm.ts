import { execFile } from 'node:child_process'

export interface NpmResult {
  readonly exitCode: number
  /** stdout and stderr together, as a user sees them. */
  readonly output: string
}

/**
 * Runs npm in `cwd` as a user would in a shell of their own: without the `npm_*` variables of
 * the npm that runs this test (`npm_config_local_prefix` would make npm install into the
 * repository instead of `cwd`), and with `userconfig` as its only config file.
 */
export function npm(
  args: readonly string[],
  options: { cwd: string; userconfig: string; timeout: number },
): Promise<NpmResult> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)),
  )
  return new Promise((resolve) => {
    execFile(
      'npm',
      [
        ...args,
        '--userconfig',
        options.userconfig,
        '--no-audit',
        '--no-fund',
        '--no-update-notifier',
      ],
      {
        cwd: options.cwd,
        env,
        timeout: options.timeout,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const exitCode = error === null ? 0 : typeof error.code === 'number' ? error.code : 1
        resolve({ exitCode, output: `${stdout}${stderr}` })
      },
    )
  })
}
