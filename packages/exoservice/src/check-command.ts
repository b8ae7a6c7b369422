import { parseApplicationArgs } from './application-args.js'
import { APPLICATION_FILE_NAME, readApplicationFile } from './application-file.js'
import { isExoServiceError } from './errors.js'
import { checkLandscape, type Finding, formatFindings } from './landscape-check.js'
import { loadLandscapeContracts } from './landscape-contracts.js'

// `exoservice check`: the landscape check on the terminal. `exoservice landscape` runs the same
// check (checkApplication) before it starts anything.

const USAGE = `Usage: exoservice check [file] [options]

Checks a landscape without starting it: reads the application file, each service's
service.yml and the contract module its messages.contract names, and prints a line for
each finding:
  no-receiver      a service sends a message no service receives (and no contract
                   lists it as a reply)
  no-sender        a service receives a message no service sends
  schema-mismatch  the contracts of a sender and a receiver define a message differently
  not-comparable   the same, but a schema has no JSON Schema to compare
  not-in-contract  a service sends or receives a message its contract does not define
Exit codes: 0 = checked (1 with --strict and findings), 1 = a file or a contract module
could not be read, 2 = wrong usage.

Arguments:
  file        the application file (default: ${APPLICATION_FILE_NAME})

Options:
  --strict    exit 1 when there is any finding
  --json      print { file, services, findings } as JSON instead of lines
  -h, --help  show this help
`

/** What the check of an application file found, and how many services it looked at. */
export interface CheckResult {
  /** The absolute path of the application file. */
  file: string
  services: number
  findings: Finding[]
}

/**
 * Reads the application file, each service's `service.yml` and contract, and checks them.
 * Rejects with the `ExoServiceError` of a file or a contract module that cannot be read.
 */
export async function checkApplication(file: string): Promise<CheckResult> {
  const application = await readApplicationFile(file)
  const landscape = await loadLandscapeContracts(application)
  return {
    file: application.file,
    services: landscape.services.length,
    findings: checkLandscape(landscape),
  }
}

/** `exoservice check [file] [--strict] [--json]`. Resolves with the exit code. */
export async function checkCommand(args: string[]): Promise<number> {
  const parsed = parseApplicationArgs('check', USAGE, args, {
    strict: { type: 'boolean' },
    json: { type: 'boolean' },
  })
  if (typeof parsed === 'number') return parsed
  const { values, file } = parsed
  let result: CheckResult
  try {
    result = await checkApplication(file)
  } catch (error) {
    if (!isExoServiceError(error)) throw error
    process.stderr.write(`exoservice check: ${error.message}\n`)
    return 1
  }
  process.stdout.write(
    values.json
      ? `${JSON.stringify(result, null, 2)}\n`
      : formatFindings(result.findings, result.services),
  )
  return values.strict && result.findings.length > 0 ? 1 : 0
}
