import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { CURVE_IDS, type CurveId } from './curve-definitions.js'
import { invalid, onlyList, phaseLengths, positiveInteger, runFolder } from './options.js'

/** Everything a run of `npm run curves` needs to know, resolved from the command line. */
export interface CurveOptions {
  readonly rounds: number
  readonly curves: readonly CurveId[]
  readonly quick: boolean
  /** Write into `results/curves/` rather than a fresh temporary folder. */
  readonly save: boolean
  /**
   * Request/replies at 64 in flight after each start, before any phase: a fresh system is
   * several times slower until its hot paths are compiled (issue 19), and the curves are of
   * warm systems.
   */
  readonly warmupRequests: number
  /** Warm-up before each measured phase, at the phase's own in-flight level, in milliseconds. */
  readonly warmupMs: number
  /** Length of each measured phase, in milliseconds. */
  readonly durationMs: number
}

/** The longest the start-up warm-up may take: large payloads go at tens a second. */
export const START_WARMUP_CAP = 5000

export const CURVES_USAGE = `Usage: npm run bench:curves -- [--quick] [--rounds N] [--only LIST] [--save]
                                            [--warmup-requests N] [--warmup S] [--duration S]

  --quick          short phases (0.3 s warm-up + 1 s measured), for checking that it works
  --rounds N       rounds of every point, systems interleaved (default 1)
  --only LIST      which curves, comma-separated: ${CURVE_IDS.join(', ')} (default: all)
  --save           write into packages/bench/results/curves/ (default: a new temporary
                   folder, printed at the end); not with --quick
  --warmup-requests N
                   request/replies at 64 in flight after each start, before any phase, at
                   most ${START_WARMUP_CAP / 1000} s of them (default 5000; --quick: 2000)
  --warmup S       warm-up before each measured phase, in seconds (default 1; --quick: 0.3)
  --duration S     length of each measured phase, in seconds (default 3; --quick: 1)
  -h, --help       print this help`

const FULL = { warmupRequests: 5000, warmupMs: 1000, durationMs: 3000 }
const QUICK = { warmupRequests: 2000, warmupMs: 300, durationMs: 1000 }

/** Where `--save` writes. */
export const SAVED_CURVES = fileURLToPath(new URL('../results/curves/', import.meta.url))

/**
 * Reads the command line of `npm run curves`. Returns `'help'` for `--help`; throws an
 * `InvalidArgumentError` (code `EXORELAY_ERR_ARG_INVALID_OPTION`) naming the bad flag and
 * value, and for `--save` with `--quick` (short phases are for checking, not for keeping).
 *
 * @example
 * ```ts
 * const options = parseCurveOptions(['--quick', '--only', 'payload'])
 * // { rounds: 1, curves: ['payload'], quick: true, save: false, warmupRequests: 2000, … }
 * ```
 */
export function parseCurveOptions(argv: readonly string[]): CurveOptions | 'help' {
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
      '--save keeps the figures in results/curves/, and --quick phases are too short to keep: drop --quick (or --save).',
    )
  }
  const defaults = quick ? QUICK : FULL
  return {
    rounds: values.rounds === undefined ? 1 : positiveInteger(values.rounds, '--rounds'),
    curves: values.only === undefined ? [...CURVE_IDS] : onlyList(values.only, CURVE_IDS),
    quick,
    save,
    ...phaseLengths(values, defaults),
  }
}

/**
 * Where a run writes: `results/curves/` with `--save`, else a folder of its own under the
 * system's temporary folder, `exorelay-curves-<date>-<pid>`, so that a run leaves the working
 * tree as it was.
 */
export function outputFolder(options: Pick<CurveOptions, 'save'>, now: Date, pid: number): string {
  return options.save ? SAVED_CURVES : runFolder('exorelay-curves', now, pid)
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
      save: { type: 'boolean' },
      'warmup-requests': { type: 'string' },
      warmup: { type: 'string' },
      duration: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}
