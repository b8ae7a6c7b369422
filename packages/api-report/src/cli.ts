import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { lineDiff } from './diff.js'
import { internalEntryProblems } from './internal-entries.js'
import { apiReport, entryOf } from './report.js'

/** Where a package keeps its report. */
export const REPORT_FILE = 'api-report.md'

export interface CheckResult {
  ok: boolean
  /** What to tell the developer when `ok` is false. */
  message: string
}

/**
 * Compares the package's checked-in report with its current declarations, and checks that its
 * internal entries ship no types.
 */
export function checkReport(packageDir: string): CheckResult {
  const file = join(packageDir, REPORT_FILE)
  const actual = apiReport({ packageDir })
  const expected = existsSync(file) ? readFileSync(file, 'utf8') : ''
  const where = relative(process.cwd(), file) || file
  const problems = internalEntryProblems(packageDir)
  if (problems.length > 0) return { ok: false, message: problems.join('\n') }
  if (actual === expected) return { ok: true, message: `${REPORT_FILE} is up to date.` }
  return {
    ok: false,
    message: [
      expected === ''
        ? `${where} is missing.`
        : `The public API differs from ${where} (- reported, + now):`,
      '',
      lineDiff(expected, actual),
      '',
      'If the change is intended, run `npm run api:update` at the repository root and commit',
      'the report; otherwise change the code back.',
    ].join('\n'),
  }
}

/** Rewrites the package's report; true when it changed. */
export function updateReport(packageDir: string): boolean {
  const file = join(packageDir, REPORT_FILE)
  const actual = apiReport({ packageDir })
  if (existsSync(file) && readFileSync(file, 'utf8') === actual) return false
  writeFileSync(file, actual)
  return true
}

const USAGE = `usage: exorelay-api-report check|update  (in a package folder)

  check   compare api-report.md with the built declarations; exit 1 with the diff when they differ
  update  rewrite api-report.md from the built declarations
`

/**
 * `check` fails (1) with the diff when the report is stale; `update` rewrites it; `--help`
 * prints the usage (0); anything else is a usage error (2). A package that cannot be reported
 * (not built, no types entry) fails (1) with one line naming it and the fix, never a stack trace.
 */
export async function main(args: string[], packageDir: string): Promise<number> {
  const [command] = args
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE)
    return 0
  }
  if (command !== 'check' && command !== 'update') {
    const what = command === undefined ? 'no command given' : `unknown command '${command}'`
    process.stderr.write(`exorelay-api-report: ${what}.\n${USAGE}`)
    return 2
  }
  try {
    const unbuilt = missingEntry(packageDir)
    if (unbuilt !== undefined) {
      process.stderr.write(`exorelay-api-report ${command}: ${unbuilt}\n`)
      return 1
    }
    if (command === 'check') {
      const result = checkReport(packageDir)
      ;(result.ok ? process.stdout : process.stderr).write(`${result.message}\n`)
      return result.ok ? 0 : 1
    }
    const changed = updateReport(packageDir)
    process.stdout.write(`${REPORT_FILE} ${changed ? 'rewritten' : 'unchanged'}.\n`)
    return 0
  } catch (error) {
    // The report's own errors are sentences that name the file and the fix; a stack trace
    // would only bury them.
    const message = error instanceof Error ? error.message : String(error)
    process.stderr.write(
      `exorelay-api-report ${command} failed in ${resolve(packageDir)}: ${message}\n`,
    )
    return 1
  }
}

/**
 * Why the package's declarations cannot be read yet, naming the command that builds them (with
 * the packages it depends on); `undefined` when they exist.
 */
function missingEntry(packageDir: string): string | undefined {
  const manifest = join(packageDir, 'package.json')
  if (!existsSync(manifest)) {
    return `${resolve(packageDir)} has no package.json: run the command in a package folder, or \`npm run api:check -w <package>\` at the repository root.`
  }
  let name: unknown
  try {
    ;({ name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown })
  } catch (error) {
    return `${resolve(manifest)} is not valid JSON (${error instanceof Error ? error.message : String(error)}): fix the file.`
  }
  let entry: string
  try {
    entry = entryOf(packageDir)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    return `${message.replace(/\.$/, '')}: give it exports['.'].types, the built index.d.ts (e.g. "./dist/index.d.ts").`
  }
  if (existsSync(entry)) return undefined
  const pkg = typeof name === 'string' ? name : resolve(packageDir)
  return `the declarations of ${pkg} (${relative(packageDir, entry)}) do not exist: build the package first, at the repository root: npx turbo run build --filter=${pkg}`
}
