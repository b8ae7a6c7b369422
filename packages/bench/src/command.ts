// What the benchmark's two commands (`npm run bench`, `npm run bench:curves`) do alike around
// their own work: read the flags, answer --help, and leave no child process behind.
import { isExoRelayError } from '@exorelay/core'
import { killAll } from './processes.js'

/** Writes one line to stdout. */
export function out(text: string): void {
  process.stdout.write(`${text}\n`)
}

/**
 * Runs a command on this process's arguments: `parse` reads them (`'help'` prints `usage`, exit
 * 0; a coded error prints itself and `usage`, exit 2), then `body` runs and its number is the
 * exit code. Ctrl-C and a crash kill every child process first.
 */
export async function runCommand<Options>(
  parse: (argv: readonly string[]) => Options | 'help',
  usage: string,
  body: (options: Options, argv: readonly string[]) => Promise<number>,
): Promise<void> {
  process.on('SIGINT', () => {
    killAll()
    process.exit(130)
  })
  const argv = process.argv.slice(2)
  try {
    let options: Options | 'help'
    try {
      options = parse(argv)
    } catch (error) {
      if (!isExoRelayError(error)) throw error
      process.stderr.write(`${error.message}\n\n${usage}\n`)
      process.exitCode = 2
      return
    }
    if (options === 'help') {
      out(usage)
      return
    }
    process.exitCode = await body(options, argv)
  } catch (error) {
    killAll()
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    )
    process.exitCode = 1
  }
}
