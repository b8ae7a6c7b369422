import { isAbsolute, relative, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { directoryProblem, scaffoldFiles, serviceNameProblem, writeFiles } from './scaffold.js'

const USAGE = `Usage: exoservice new <name> [options]

Writes a new service folder: service.yml, the handlers and their message types in TypeScript,
a test against a mock bus, package.json (start and test scripts), tsconfig.json and a README.

Arguments:
  <name>                 the service's type, its name on the bus, e.g. users: letters,
                         digits, '.', '-' and '_'

Options:
  -d, --directory <dir>  the folder to write (default: ./<name>); it must not exist or be empty
  -f, --force            write into a folder that is not empty, replacing files of the same name
  -h, --help             show this help
`

/**
 * `exoservice new <name>`: scaffolds a service that passes its own test after `npm install`.
 * Resolves with the exit code: 0 written, 1 the folder is in the way or cannot be written,
 * 2 wrong usage.
 */
export async function newCommand(args: string[]): Promise<number> {
  let values: { directory?: string | undefined; force?: boolean | undefined; help?: boolean }
  let positionals: string[]
  try {
    ;({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        directory: { type: 'string', short: 'd' },
        force: { type: 'boolean', short: 'f' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (error) {
    return usageError((error as Error).message)
  }
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  const [name, ...extra] = positionals
  if (name === undefined) return usageError('name the service, e.g. `exoservice new users`.')
  if (extra.length > 0) {
    return usageError(`one name only; got ${positionals.map((p) => `'${p}'`).join(', ')}.`)
  }
  const nameProblem = serviceNameProblem(name)
  if (nameProblem !== undefined) return usageError(nameProblem)

  const directory = resolve(values.directory ?? name)
  const shown = shownPath(directory)
  try {
    const problem = await directoryProblem(shown, values.force === true)
    if (problem !== undefined) {
      process.stderr.write(`exoservice new: ${problem}\n`)
      return 1
    }
    const files = await scaffoldFiles(name)
    await writeFiles(directory, files)
    const cd =
      shown === '.' ? '' : `cd ${/[\s'"$]/.test(shown) ? JSON.stringify(shown) : shown} && `
    process.stdout.write(
      [
        `Wrote the ${name} service in ${shown}:`,
        ...[...files.keys()].map((file) => `  ${file}`),
        '',
        'Next steps:',
        `  ${cd}npm install && npm test`,
        '  EXOCOM_PORT=3100 npm start    # runs the service; it needs a bus: npx @exorelay/exocom',
        '',
      ].join('\n'),
    )
    return 0
  } catch (error) {
    // A folder that cannot be read or written (permissions, a full disk): said in one line.
    process.stderr.write(
      `exoservice new: cannot write ${shown}: ${(error as Error).message}. Check that the folder can be written, or choose another with --directory.\n`,
    )
    return 1
  }
}

function usageError(message: string): number {
  process.stderr.write(`exoservice new: ${message}\n\n${USAGE}`)
  return 2
}

/** `directory` as the user best recognises it: relative to where they are, when it is inside. */
function shownPath(directory: string): string {
  const path = relative(process.cwd(), directory)
  if (path === '') return '.'
  return path.startsWith('..') || isAbsolute(path) ? directory : path
}
