import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { ErrorCodes, InvalidArgumentError } from '@exorelay/core'
import { DEFAULT_FLOOD_SERVICES } from './flood.js'
import { OPT_IN_IDS, SYSTEM_IDS, type SystemId } from './scenario.js'

/** What `--only` can select: the systems and the core micro-benchmark. */
export const TARGETS = [...SYSTEM_IDS, 'core'] as const
export type Target = SystemId | 'core'
/** What runs without `--only`: everything but the opt-in systems (`OPT_IN_IDS`). */
export const DEFAULT_TARGETS: readonly Target[] = TARGETS.filter(
  (target) => !(OPT_IN_IDS as readonly string[]).includes(target),
)

/** Everything a run needs to know, resolved from the command line. */
export interface BenchOptions {
  readonly rounds: number
  readonly targets: readonly Target[]
  readonly quick: boolean
  /**
   * Request/replies at 1 in flight on the fresh processes, before anything else (the
   * cold-start phase); 0 leaves the phase out.
   */
  readonly coldRequests: number
  /**
   * Request/replies at 64 in flight run once after the latency phases and before the
   * throughput phase, so that every system reaches the same JIT-optimised state for it
   * whatever its speed.
   */
  readonly warmupRequests: number
  /** Warm-up before each measured phase, at the phase's own in-flight level, in milliseconds. */
  readonly warmupMs: number
  /** Length of each measured phase, in milliseconds. */
  readonly durationMs: number
  /** Request/replies per variant of the core micro-benchmark. */
  readonly coreIterations: number
  readonly coreWarmup: number
  /** Profile every Node.js process of the systems under 64-in-flight load instead of reporting. */
  readonly cpuProf: boolean
  /** Services that re-register once a second in `exorelay-flood`. */
  readonly floodServices: number
  /**
   * Whether the requesting services run with their libraries' default caller's frames (nats.js
   * captures a stack per request, ExoRelay takes the awaiting frames); `--no-stacks` turns them
   * off (ExoRelay `stackTraces: false`, nats.js `noAsyncTraces: true`).
   */
  readonly stackCapture: boolean
  /** Write the results into the package's `results/` (`--save`), not only the run's folder. */
  readonly save: boolean
  /** The arguments as given, for the report's "command used". */
  readonly argv: readonly string[]
}

export const USAGE = `Usage: npm run bench -- [--quick] [--rounds N] [--only LIST]
                          [--cold-requests N] [--warmup-requests N] [--warmup S]
                          [--duration S] [--cpu-prof] [--flood-services N] [--no-stacks] [--save]

  --quick          1 round of short phases (about a minute in all)
  --rounds N       rounds of the systems, interleaved (default 3; --quick: 1)
  --only LIST      what to run, comma-separated: ${TARGETS.join(', ')}
                   (default: all but the mix-* systems, the floor with one ExoRelay component;
                   exorelay-flood, ExoRelay while other services flood the bus with
                   re-registrations: run it with exorelay to get the ratio; and the *-otel-*
                   systems, ExoRelay (over NATS) with @exorelay/opentelemetry, -api: the
                   OpenTelemetry API and no SDK, -sdk: an SDK exporting nowhere: run them
                   with exorelay (exorelay-nats) to get the ratios; exorelay-events-1 and
                   exorelay-events-100, ExoRelay while 1 or 100 clients follow the bus's
                   event stream GET /events: run them with exorelay to get the ratios)
  --cold-requests N
                   the cold-start phase: the first N request/replies after each start, at
                   1 in flight, in 20 windows (default 10000; --quick: 2000; 0: none)
  --warmup-requests N
                   request/replies at 64 in flight after the @1 and @8 phases, before @64
                   (default 10000; --quick: 3000)
  --warmup S       warm-up before each measured phase, in seconds (default 2; --quick: 0.5)
  --duration S     length of each measured phase, in seconds (default 5; --quick: 2)
  --cpu-prof       profile the systems' Node.js processes in the cold-start phase and under
                   64-in-flight load (node --cpu-prof) and summarise the profiles of each
                   instead of reporting
  --no-stacks      run every system without per-request stack capture (ExoRelay
                   stackTraces: false, nats.js noAsyncTraces: true) instead of the
                   libraries' defaults
  --save           also write results/latest.json and latest.md (with --cpu-prof:
                   results/profile-summary.md); not with --quick. Without it a run
                   writes only into a fresh folder in the system's temporary directory
  --flood-services N
                   services that each re-register (PUT /services/<name>, unchanged) once a
                   second in exorelay-flood (default ${DEFAULT_FLOOD_SERVICES})
  -h, --help       print this help`

const FULL = {
  rounds: 3,
  coldRequests: 10_000,
  warmupRequests: 10_000,
  warmupMs: 2000,
  durationMs: 5000,
  coreIterations: 100_000,
  coreWarmup: 20_000,
}
const QUICK = {
  rounds: 1,
  coldRequests: 2_000,
  warmupRequests: 3_000,
  warmupMs: 500,
  durationMs: 2000,
  coreIterations: 20_000,
  coreWarmup: 5_000,
}

/**
 * Reads the command line. Returns `'help'` for `--help`; throws an `InvalidArgumentError`
 * (code `EXORELAY_ERR_ARG_INVALID_OPTION`) naming the bad flag and value.
 *
 * @example
 * ```ts
 * const options = parseOptions(['--quick', '--only', 'floor,exorelay'])
 * // { rounds: 1, targets: ['floor', 'exorelay'], warmupMs: 500, durationMs: 2000, … }
 * ```
 */
export function parseOptions(argv: readonly string[]): BenchOptions | 'help' {
  let values: ReturnType<typeof parse>['values']
  try {
    values = parse(argv).values
  } catch (error) {
    throw invalid(`${error instanceof Error ? error.message : String(error)} See --help.`)
  }
  if (values.help === true) return 'help'
  const quick = values.quick === true
  const save = values.save === true
  if (quick && save) {
    throw invalid(
      "--save keeps a run as the package's results, and a --quick run is too short for that: drop --quick (or --save).",
    )
  }
  const defaults = quick ? QUICK : FULL
  return {
    rounds:
      values.rounds === undefined ? defaults.rounds : positiveInteger(values.rounds, '--rounds'),
    targets: values.only === undefined ? [...DEFAULT_TARGETS] : onlyList(values.only, TARGETS),
    quick,
    coldRequests:
      values['cold-requests'] === undefined
        ? defaults.coldRequests
        : nonNegativeInteger(values['cold-requests'], '--cold-requests'),
    ...phaseLengths(values, defaults),
    coreIterations: defaults.coreIterations,
    coreWarmup: defaults.coreWarmup,
    cpuProf: values['cpu-prof'] === true,
    floodServices:
      values['flood-services'] === undefined
        ? DEFAULT_FLOOD_SERVICES
        : positiveInteger(values['flood-services'], '--flood-services'),
    stackCapture: values['no-stacks'] !== true,
    save,
    argv: [...argv],
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      quick: { type: 'boolean' },
      rounds: { type: 'string' },
      only: { type: 'string' },
      'cold-requests': { type: 'string' },
      'warmup-requests': { type: 'string' },
      warmup: { type: 'string' },
      duration: { type: 'string' },
      'cpu-prof': { type: 'boolean' },
      'flood-services': { type: 'string' },
      'no-stacks': { type: 'boolean' },
      save: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}

/** Where `--save` keeps a run's results: the package's `results/`. */
export const SAVED_RESULTS = fileURLToPath(new URL('../results/', import.meta.url))

/**
 * A fresh folder for one run's files, `<tmp>/<prefix>-<date>-<pid>` (e.g.
 * `/tmp/exorelay-bench-2026-12-07T01-02-03-4711`): a run that is not saved leaves the working
 * tree as it was. The date has no colons, so the name is valid everywhere.
 */
export function runFolder(
  prefix: string,
  now: Date = new Date(),
  pid: number = process.pid,
  tmp: string = tmpdir(),
): string {
  const date = now.toISOString().slice(0, 19).replaceAll(':', '-')
  return join(tmp, `${prefix}-${date}-${pid}`)
}

/** `text` as a positive integer; throws naming `flag` for anything else. */
export function positiveInteger(text: string, flag: string): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value < 1) {
    throw invalid(`${flag} must be a positive integer, got '${text}'.`)
  }
  return value
}

/** `text` as a non-negative integer; throws naming `flag` for anything else. */
function nonNegativeInteger(text: string, flag: string): number {
  const value = Number(text)
  if (text.trim() === '' || !Number.isInteger(value) || value < 0) {
    throw invalid(`${flag} must be a non-negative integer, got '${text}'.`)
  }
  return value
}

/** `text` seconds as whole milliseconds; throws naming `flag` for anything but a number of seconds. */
function seconds(text: string, flag: string, zeroAllowed: boolean): number {
  const value = Number(text)
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || (value === 0 && !zeroAllowed)) {
    throw invalid(
      `${flag} must be a ${zeroAllowed ? 'non-negative' : 'positive'} number of seconds, got '${text}'.`,
    )
  }
  return Math.round(value * 1000)
}

/**
 * `--only`'s comma-separated list, each name one of `ids`: returned in the order of `ids`,
 * whatever order they were listed in, each once. Throws naming the first unknown name.
 */
export function onlyList<Id extends string>(text: string, ids: readonly Id[]): Id[] {
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '')
  if (names.length === 0)
    throw invalid(`--only needs at least one of ${ids.join(', ')}, got '${text}'.`)
  for (const name of names) {
    if (!(ids as readonly string[]).includes(name)) {
      throw invalid(`--only takes ${ids.join(', ')}; '${name}' is none of them.`)
    }
  }
  return ids.filter((id) => names.includes(id))
}

/** How long a command's warm-ups and phases run. */
export interface PhaseLengths {
  readonly warmupRequests: number
  readonly warmupMs: number
  readonly durationMs: number
}

/** `--warmup-requests`, `--warmup` and `--duration` as given, else `defaults`. */
export function phaseLengths(
  values: { 'warmup-requests'?: string; warmup?: string; duration?: string },
  defaults: PhaseLengths,
): PhaseLengths {
  return {
    warmupRequests:
      values['warmup-requests'] === undefined
        ? defaults.warmupRequests
        : nonNegativeInteger(values['warmup-requests'], '--warmup-requests'),
    warmupMs:
      values.warmup === undefined ? defaults.warmupMs : seconds(values.warmup, '--warmup', true),
    durationMs:
      values.duration === undefined
        ? defaults.durationMs
        : seconds(values.duration, '--duration', false),
  }
}

/** The error of a bad flag: `EXORELAY_ERR_ARG_INVALID_OPTION` with `message`. */
export function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError(ErrorCodes.INVALID_OPTION, message)
}
