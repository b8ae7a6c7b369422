import { spawn } from 'node:child_process'
import { delimiter } from 'node:path'
import { FailureLines } from './failure-lines.js'
import { type NodeRuntime, nodeRuntime } from './node-runtimes.js'

/** How the suite went on one Node version. */
export interface NodeRun {
  readonly major: number
  /** `undefined` when that Node could not be fetched. */
  readonly version: string | undefined
  readonly code: number | null
  readonly seconds: number
  /** Why it did not run, when it did not. */
  readonly problem?: string
  /** What the run's output said failed (failing tests, failed tasks), for the summary. */
  readonly failures: readonly string[]
}

/** Where a chunk of the command's output goes, with the stream it came on. */
export type Output = (chunk: string, stream: 'stdout' | 'stderr') => void

export interface RunOnNodesOptions {
  readonly resolve?: (major: number) => Promise<NodeRuntime>
  readonly log?: (line: string) => void
  /** Where the command's output goes as it comes: by default, this process's stdout and stderr. */
  readonly output?: Output
  /**
   * How long the command's output may go on after it exited, in ms: a process it left running
   * holds the pipe, and the run ends without waiting for it.
   * @default DRAIN_TIME
   */
  readonly drainTime?: number
}

/**
 * The Node majors to run on: `EXORELAY_TEST_NODES` (`22 24`, `22,24`, or `current` for the
 * running Node alone) when set, else `defaults`.
 */
export function majorsToRun(
  defaults: readonly number[],
  env = process.env.EXORELAY_TEST_NODES,
): number[] {
  const spec = env?.trim()
  if (spec === undefined || spec === '') return [...defaults]
  if (spec === 'current') return [Number(process.versions.node.split('.')[0])]
  const words = spec.split(/[\s,]+/)
  const majors = words.map(Number)
  const bad = words.filter((_, i) => !Number.isInteger(majors[i]) || (majors[i] ?? 0) < 1)
  if (bad.length > 0) {
    throw new RangeError(
      `EXORELAY_TEST_NODES=${JSON.stringify(env)}: ${bad.map((b) => `'${b}'`).join(', ')} is not a Node major version; write majors such as "22 24", or "current".`,
    )
  }
  return majors
}

interface CommandRun {
  readonly code: number | null
  readonly failures: readonly string[]
}

/** How long output may go on after the command exited (ms), by default. */
export const DRAIN_TIME = 5_000

/**
 * Piped, the command's output is no terminal's, and turbo and node:test drop their colours: in
 * a terminal they are asked to keep them, unless the user said otherwise.
 */
function colourEnv(): Record<string, string> {
  const said = process.env.FORCE_COLOR !== undefined || process.env.NO_COLOR !== undefined
  return process.stdout.isTTY === true && !said ? { FORCE_COLOR: '1' } : {}
}

const writeToProcess: Output = (chunk, stream) => {
  process[stream].write(chunk)
}

function runWith(
  runtime: NodeRuntime,
  command: string,
  args: readonly string[],
  output: Output,
  drainTime: number,
): Promise<CommandRun> {
  return new Promise((resolve) => {
    const failures = new FailureLines()
    const child = spawn(command, args, {
      // Output passes through as it comes, and is read on the way for the summary.
      stdio: ['inherit', 'pipe', 'pipe'],
      env: {
        ...process.env,
        // First on PATH, so that every `node` the command starts (turbo → npm → node --test →
        // the tests' own child processes) is this version.
        PATH: `${runtime.binDir}${delimiter}${process.env.PATH ?? ''}`,
        // Part of turbo's hash of each test task (turbo.json), so that a pass on one version
        // is never replayed from the cache for another.
        EXORELAY_TEST_NODE: runtime.version,
        ...colourEnv(),
      },
    })
    for (const stream of ['stdout', 'stderr'] as const) {
      child[stream].setEncoding('utf8')
      child[stream].on('data', (chunk: string) => {
        output(chunk, stream)
        failures.write(chunk, stream)
      })
    }
    child.on('error', (error) =>
      resolve({ code: null, failures: [`could not start ${command}: ${error.message}`] }),
    )
    let drained: NodeJS.Timeout | undefined
    child.on('exit', (code) => {
      // 'close' waits for every process that holds the pipes; one the command left running
      // would hold this run forever.
      drained = setTimeout(() => {
        child.stdout.destroy()
        child.stderr.destroy()
        const lingering = `${command} exited, but a process it started still held its output ${drainTime} ms later: the run ends without it`
        output(`test-env: ${lingering}\n`, 'stderr')
        resolve({ code, failures: [...failures.lines(), lingering] })
      }, drainTime)
    })
    child.on('close', (code) => {
      clearTimeout(drained)
      resolve({ code, failures: failures.lines() })
    })
  })
}

/**
 * Runs `command` once per Node major, one after the other, with that Node first on PATH; goes
 * on after a failure so that one run shows every version's result. Resolves to each run.
 */
export async function runOnNodes(
  majors: readonly number[],
  command: string,
  args: readonly string[],
  options: RunOnNodesOptions = {},
): Promise<NodeRun[]> {
  const resolve = options.resolve ?? ((major: number) => nodeRuntime(major))
  const log = options.log ?? ((line: string) => console.log(line))
  const output = options.output ?? writeToProcess
  const drainTime = options.drainTime ?? DRAIN_TIME
  const runs: NodeRun[] = []
  for (const major of majors) {
    const start = performance.now()
    let runtime: NodeRuntime
    try {
      runtime = await resolve(major)
    } catch (error) {
      const problem = error instanceof Error ? error.message : String(error)
      log(`test-env: Node ${major}: ${problem}`)
      runs.push({ major, version: undefined, code: null, seconds: 0, problem, failures: [] })
      continue
    }
    log(`test-env: Node ${runtime.version}: ${[command, ...args].join(' ')}`)
    const { code, failures } = await runWith(runtime, command, args, output, drainTime)
    runs.push({
      major,
      version: runtime.version,
      code,
      seconds: (performance.now() - start) / 1000,
      failures,
    })
  }
  return runs
}

/**
 * One line per version, what a developer reads at the end of a long run; under a failed one,
 * indented, the lines of its output that said what failed.
 */
export function summary(runs: readonly NodeRun[]): string {
  return runs
    .flatMap((run) => {
      const outcome =
        run.version === undefined
          ? 'not run'
          : run.code === 0
            ? 'passed'
            : `failed (exit code ${run.code})`
      const line = `Node ${run.version ?? run.major}: ${outcome}${run.version === undefined ? '' : ` in ${run.seconds.toFixed(0)} s`}`
      if (run.code === 0 || run.version === undefined) return [line]
      const failures =
        run.failures.length > 0 ? run.failures : ['(nothing in its output said what: see the log)']
      return [line, ...failures.map((failure) => `  ${failure}`)]
    })
    .join('\n')
}
