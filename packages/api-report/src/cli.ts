import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { lineDiff } from './diff.js'
import { internalEntryProblems } from './internal-entries.js'
import { apiReport } from './report.js'

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

const USAGE = 'usage: exorelay-api-report check|update  (in a package folder)'

/** `check` fails (1) with the diff when the report is stale; `update` rewrites it. */
export async function main(args: string[], packageDir: string): Promise<number> {
  const [command] = args
  if (command === 'check') {
    const result = checkReport(packageDir)
    ;(result.ok ? process.stdout : process.stderr).write(`${result.message}\n`)
    return result.ok ? 0 : 1
  }
  if (command === 'update') {
    const changed = updateReport(packageDir)
    process.stdout.write(`${REPORT_FILE} ${changed ? 'rewritten' : 'unchanged'}.\n`)
    return 0
  }
  process.stderr.write(`${USAGE}\n`)
  return 2
}
