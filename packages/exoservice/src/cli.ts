import { createRequire } from 'node:module'
import { readApplicationFile } from './application-file.js'
import { asyncapiCommand } from './asyncapi-command.js'
import { checkCommand } from './check-command.js'
import { landscapeCommand } from './landscape-command.js'
import { loadLandscapeContracts } from './landscape-contracts.js'
import { newCommand } from './new-command.js'
import { runCommand } from './run-command.js'

// The `exoservice` command: one subcommand per file; this file only picks one. The bin is the
// one place in this package that talks to the terminal directly.

const USAGE = `Usage: exoservice <command> [options]

Commands:
  run [folder]          run the service in folder (default: .) from its service.yml
  new <name>            scaffold a service folder named <name>
  landscape [file]      run the bus and every service an application.yml lists
  check [file]          check a landscape's messages and contracts without starting it
  asyncapi [file]       write the landscape's messages as an AsyncAPI 3.0 document

Run 'exoservice <command> --help' for a command's options.

Options:
  -h, --help            show this help
  -v, --version         show the version
`

/** A subcommand: takes the arguments after its name, resolves with the exit code. */
type Command = (args: string[]) => Promise<number>

const COMMANDS: Readonly<Record<string, Command>> = {
  run: runCommand,
  new: newCommand,
  landscape: landscapeCommand,
  check: checkCommand,
  asyncapi: (args) =>
    asyncapiCommand(args, async (file) => loadLandscapeContracts(await readApplicationFile(file))),
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
  const command = COMMANDS[first]
  if (command === undefined) {
    process.stderr.write(`exoservice: unknown command '${first}'.\n\n${USAGE}`)
    return 2
  }
  return command(rest)
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    // Each command reports its own failures; this is for a bug in one of them.
    process.stderr.write(
      `exoservice: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    )
    process.exitCode = 1
  },
)
