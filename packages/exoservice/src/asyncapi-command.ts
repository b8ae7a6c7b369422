import { writeFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { stringify } from 'yaml'
import { type CommandOutput, parseApplicationArgs } from './application-args.js'
import { APPLICATION_FILE_NAME } from './application-file.js'
import { asyncApiDocument } from './asyncapi.js'
import { isExoServiceError } from './errors.js'
import { checkLandscape } from './landscape-check.js'
import type { LandscapeContracts } from './landscape-contracts.js'

// `exoservice asyncapi`: the landscape's AsyncAPI document (asyncapi.ts), written as YAML or
// JSON. The loading of the contracts is passed in: the command is only the terminal around it.

const USAGE = `Usage: exoservice asyncapi [file] [options]

Writes the landscape as an AsyncAPI 3.0 document: one channel per message, each service's
sends and receives as operations, the payloads and reply outcomes as the JSON Schema of the
services' contracts. Reads the application file and each service's service.yml and contract.

Arguments:
  file               the application file (default: ${APPLICATION_FILE_NAME})

Options:
  -o, --output <file>
                     write the document to file: YAML for .yaml or .yml, JSON for .json
                     (default: YAML on stdout)
  -h, --help         show this help
`

/** How the output file's name picks the format. */
const FORMATS: Readonly<Record<string, 'yaml' | 'json'>> = {
  '.yaml': 'yaml',
  '.yml': 'yaml',
  '.json': 'json',
}

/**
 * `exoservice asyncapi [file] [--output file]`. `load` reads the landscape and its contracts
 * (`loadLandscapeContracts`), throwing an `ExoServiceError` for what the user must fix.
 * Resolves with the exit code: 0 written, 1 failed, 2 wrong usage.
 */
export async function asyncapiCommand(
  args: string[],
  load: (applicationFile: string) => Promise<LandscapeContracts>,
  out: CommandOutput = process,
): Promise<number> {
  const parsed = parseApplicationArgs(
    'asyncapi',
    USAGE,
    args,
    { output: { type: 'string', short: 'o' } },
    out,
  )
  if (typeof parsed === 'number') return parsed
  const { values, file } = parsed
  const format =
    values.output === undefined ? 'yaml' : FORMATS[extname(values.output).toLowerCase()]
  if (format === undefined) {
    out.stderr.write(
      `exoservice asyncapi: --output must end in .yaml, .yml or .json (the extension picks the format), got '${values.output}'.\n\n${USAGE}`,
    )
    return 2
  }

  let landscape: LandscapeContracts
  try {
    landscape = await load(file)
  } catch (error) {
    if (!isExoServiceError(error)) throw error
    out.stderr.write(`exoservice asyncapi: ${error.message}\n`)
    return 1
  }
  const document = asyncApiDocument(landscape)
  // Where two services' contracts disagree, the document shows one of them: say so, so that
  // nobody takes it for the landscape's agreed shape.
  const disagree = [
    ...new Set(
      checkLandscape(landscape)
        .filter(({ code }) => code === 'schema-mismatch')
        .map(({ messageName }) => messageName),
    ),
  ]
  if (disagree.length > 0) {
    out.stderr.write(
      `exoservice asyncapi: warning: the contracts of ${disagree.map((name) => `'${name}'`).join(', ')} disagree between services; the document takes each from its first receiver's contract. Run exoservice check to see where.\n`,
    )
  }
  const text =
    format === 'json'
      ? `${JSON.stringify(document, null, 2)}\n`
      : // No anchors: a reader (or a diff) sees each object where it is used.
        stringify(document, { aliasDuplicateObjects: false, lineWidth: 0 })
  if (values.output === undefined) {
    out.stdout.write(text)
    return 0
  }
  try {
    await writeFile(values.output, text)
  } catch (error) {
    out.stderr.write(
      `exoservice asyncapi: cannot write ${values.output} (${(error as Error).message}). Check that its folder exists and can be written.\n`,
    )
    return 1
  }
  const count = (key: string) => Object.keys(document[key] as object).length
  out.stdout.write(
    `exoservice asyncapi: wrote ${values.output} (${count('channels')} channels, ${count('operations')} operations)\n`,
  )
  return 0
}
