import { ensureProgram, MissingProgramError, PROGRAMS } from './programs.js'
import { majorsToRun, runOnNodes, summary } from './run-on-nodes.js'

const USAGE = `usage: exorelay-test-env setup
       exorelay-test-env nodes <major>... -- <command> [args...]

  setup   install the programs the tests start (nats-server, chromium) when missing: with
          apt-get as root or through password-less sudo; otherwise say how to get them
  nodes   run <command> once per Node major (fetched from the npm registry's node-<os>-<cpu>
          packages into ~/.cache/exorelay/node), that Node first on PATH; EXORELAY_TEST_NODES
          ("22 24", or "current") replaces the majors given
`

/**
 * `setup` and `nodes` exit 0 when everything passed and 1 otherwise, `--help` prints the
 * usage (0), anything else is a usage error (2). Failures are one line each, never a stack.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === '--help' || command === '-h') {
    process.stdout.write(USAGE)
    return 0
  }
  if (command === 'setup' && rest.length === 0) {
    try {
      for (const program of PROGRAMS) await ensureProgram(program)
      return 0
    } catch (error) {
      if (!(error instanceof MissingProgramError)) throw error
      console.error(`test-env: ${error.message}`)
      return 1
    }
  }
  if (command === 'nodes') {
    const separator = rest.indexOf('--')
    const [program, ...args] = separator === -1 ? [] : rest.slice(separator + 1)
    const given = (separator === -1 ? rest : rest.slice(0, separator)).map(Number)
    if (
      program !== undefined &&
      given.length > 0 &&
      given.every((n) => Number.isInteger(n) && n > 0)
    ) {
      let majors: number[]
      try {
        majors = majorsToRun(given)
      } catch (error) {
        console.error(`test-env: ${(error as Error).message}`)
        return 2
      }
      const runs = await runOnNodes(majors, program, args)
      console.log(`\n${summary(runs)}`)
      return runs.every((run) => run.code === 0) ? 0 : 1
    }
  }
  process.stderr.write(
    `exorelay-test-env: unknown arguments: ${argv.join(' ') || '(none)'}\n${USAGE}`,
  )
  return 2
}
