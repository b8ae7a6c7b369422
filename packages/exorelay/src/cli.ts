import { createRequire } from 'node:module'
import { requestCommand } from './cli-request.js'
import { routesCommand } from './cli-routes.js'
import { sendCommand } from './cli-send.js'
import { tailCommand } from './cli-tail.js'

// The `exorelay` command: one subcommand per file; this file only picks one. The bin is the
// one place in this package that talks to the terminal directly.

const USAGE = `Usage: exorelay <command> [options]

Commands:
  send <name> [payload-json|-]      send a message without waiting for a reply
  request <name> [payload-json|-]   send a message and print its reply as JSON
  routes                            print the bus's services and routes
  tail [pattern...]                 follow the messages and services on the bus

Run 'exorelay <command> --help' for a command's options. The bus is found by --host, --port
and --token, or EXOCOM_HOST, EXOCOM_PORT and EXOCOM_TOKEN.

Options:
  -h, --help                        show this help
  -v, --version                     show the version
`

/** A subcommand: takes the arguments after its name, resolves with the exit code. */
type Command = (args: string[]) => Promise<number>

const COMMANDS: Readonly<Record<string, Command>> = {
  send: sendCommand,
  request: requestCommand,
  routes: routesCommand,
  tail: tailCommand,
}

/** Exit codes: 0 = done, 1 = failed, 2 = wrong usage. */
async function main(args: string[]): Promise<number> {
  const [first, ...rest] = args
  if (first === undefined || first === '-h' || first === '--help') {
    ;(first === undefined ? process.stderr : process.stdout).write(USAGE)
    return first === undefined ? 2 : 0
  }
  if (first === '-v' || first === '--version') {
    const require = createRequire(import.meta.url)
    const { version } = require('../package.json') as { version: string }
    process.stdout.write(`${version}\n`)
    return 0
  }
  const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined
  if (command === undefined) {
    process.stderr.write(`exorelay: unknown command '${first}'.\n\n${USAGE}`)
    return 2
  }
  return command(rest)
}

// `exorelay tail | head`: a reader that goes away ends the command quietly, as in other tools.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  process.exit(error.code === 'EPIPE' ? 0 : 1)
})

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    // Each command reports its own failures; this is for a bug in one of them.
    process.stderr.write(
      `exorelay: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    )
    process.exitCode = 1
  },
)
