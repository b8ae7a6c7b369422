import type { RegistrationCounts } from './flood.js'
import type { Usage } from './ipc.js'
import type { LoadResult } from './load.js'
import type { MeasuredProcess } from './processes.js'
import { type RunningSystem, type Scenario, type StartOptions, stopSystem } from './scenario.js'

/** Requests in flight in the latency phase. */
export const SINGLE = 1
/** Requests in flight in the light-load latency phase: a service with a few callers. */
export const LIGHT = 8
/** Requests in flight in the throughput phase. */
export const CONCURRENT = 64
/** The latency phases, measured before any burst of load (goal 1 of issue 19). */
export const LATENCY_LEVELS = [SINGLE, LIGHT] as const
/** The cold-start phase's request/replies are summarised in this many windows. */
export const COLD_WINDOWS = 20

/** The longest the burst warm-up may take, for a system too slow to finish its count. */
const WARMUP_CAP = 30_000
/**
 * The cold-start phase stops after its count or after this many ms per request/reply of it,
 * whichever comes first: a system slower than that ends with fewer windows, and the report
 * shows how far it got.
 */
const COLD_CAP_PER_REQUEST = 12

/** One measured phase of one system: load figures plus the CPU all its processes spent. */
export interface PhaseResult {
  readonly inFlight: number
  readonly completed: number
  readonly errors: number
  readonly firstError: string | undefined
  readonly elapsedMs: number
  /** Request/replies per second. */
  readonly throughput: number
  readonly latencyUs:
    | { readonly median: number; readonly p99: number; readonly min: number; readonly max: number }
    | undefined
  /** CPU time each process spent during the phase, in microseconds, by process label. */
  readonly cpuMicros: Readonly<Record<string, number>>
  /** All processes' CPU time divided by completed request/replies, in microseconds. */
  readonly cpuPerRequestUs: number | undefined
  /** What the registration flood did during the measured phase; only in `exorelay-flood`. */
  readonly registrations?: RegistrationCounts | undefined
}

/** Latencies of consecutive request/replies of the cold-start phase, in µs. */
export interface ColdWindow {
  /** Request/replies completed before this window (0 for the first). */
  readonly after: number
  readonly count: number
  readonly median: number
  readonly p99: number
  readonly mean: number
}

/** The first request/replies of a fresh system, at 1 in flight, with no warm-up before them. */
export interface ColdStart {
  readonly completed: number
  readonly errors: number
  readonly firstError: string | undefined
  readonly elapsedMs: number
  /** The very first request/reply's latency, µs. */
  readonly firstUs: number | undefined
  /** In the order the request/replies ran: `COLD_WINDOWS` of them, or fewer if it was cut short. */
  readonly windows: readonly ColdWindow[]
  /** CPU time each process spent during the phase, in microseconds, by process label. */
  readonly cpuMicros: Readonly<Record<string, number>>
  readonly cpuPerRequestUs: number | undefined
}

/** One round of one system. */
export interface SystemRound {
  readonly system: Scenario['id']
  readonly round: number
  /** The cold-start phase; absent when `--cold-requests 0` left it out. */
  readonly cold?: ColdStart | undefined
  readonly phases: readonly PhaseResult[]
  /** Resident memory by process label, in bytes: idle after start, and after the last phase. */
  readonly rss: {
    readonly idle: Readonly<Record<string, number>>
    readonly end: Readonly<Record<string, number>>
  }
}

/** A stretch of the monotonic clock (`process.hrtime`), in microseconds. */
export interface TimeWindow {
  readonly startUs: number
  readonly endUs: number
}

export interface RoundOptions {
  readonly round: number
  /** Request/replies of the cold-start phase; 0 leaves it out. */
  readonly coldRequests: number
  /** Whether to measure the latency phases (@1, @8); `--cpu-prof` profiles only cold and @64. */
  readonly latencyPhases: boolean
  /** Request/replies at 64 in flight before the throughput phase (JIT warm-up). */
  readonly warmupRequests: number
  readonly warmupMs: number
  readonly durationMs: number
  readonly start: StartOptions
  /**
   * Called after each phase, for progress output; `window` is when the measured part ran, in
   * µs of the monotonic clock that CPU profiles use too.
   */
  readonly onPhase?: ((phase: PhaseResult, window: TimeWindow) => void) | undefined
  /** Called after the cold-start phase, as `onPhase`. */
  readonly onCold?: ((cold: ColdStart, window: TimeWindow) => void) | undefined
}

/** One step of a round, in the order `roundSteps` gives. */
export type RoundStep =
  | { readonly kind: 'cold'; readonly count: number }
  | { readonly kind: 'phase'; readonly inFlight: number }
  | { readonly kind: 'burst'; readonly count: number }

/**
 * The steps of a round. The cold-start phase first, on the fresh processes: what a service
 * that was just deployed sees. Then the latency phases, each after only its own short warm-up,
 * as a quiet service is: a burst of load first would let the JIT optimise every path and hide
 * what goal 1 of issue 19 is about. Then the burst (a count, not a time, so that slow systems
 * warm up as much: the first seconds under load cost several times the CPU of later ones)
 * and the throughput phase.
 */
export function roundSteps(
  options: Pick<RoundOptions, 'coldRequests' | 'latencyPhases' | 'warmupRequests'>,
): RoundStep[] {
  return [
    ...(options.coldRequests > 0 ? [{ kind: 'cold', count: options.coldRequests } as const] : []),
    ...(options.latencyPhases
      ? LATENCY_LEVELS.map((inFlight) => ({ kind: 'phase', inFlight }) as const)
      : []),
    ...(options.warmupRequests > 0
      ? [{ kind: 'burst', count: options.warmupRequests } as const]
      : []),
    { kind: 'phase', inFlight: CONCURRENT },
  ]
}

/**
 * Starts a system, measures its idle memory, runs the steps of `roundSteps`, measures its
 * memory again and stops it. Processes are fresh each round, and only one system runs at a
 * time, so systems never compete for the two cores.
 */
export async function runSystemRound(
  scenario: Scenario,
  options: RoundOptions,
): Promise<SystemRound> {
  const system = await scenario.start(options.start)
  try {
    const started = await usageOf(system.processes)
    const idle = rssOf(system.processes, started)
    let cold: ColdStart | undefined
    const phases: PhaseResult[] = []
    for (const step of roundSteps(options)) {
      if (step.kind === 'cold') {
        const measured = await runCold(system, step.count, started)
        cold = measured.cold
        options.onCold?.(measured.cold, measured.window)
      } else if (step.kind === 'burst') {
        await system.requester.request({
          type: 'load',
          options: { inFlight: CONCURRENT, count: step.count, durationMs: WARMUP_CAP },
        })
      } else {
        const { phase, window } = await runPhase(
          system,
          step.inFlight,
          options.warmupMs,
          options.durationMs,
        )
        phases.push(phase)
        options.onPhase?.(phase, window)
      }
    }
    const end = rssOf(system.processes, await usageOf(system.processes))
    return {
      system: scenario.id,
      round: options.round,
      ...(cold === undefined ? {} : { cold }),
      phases,
      rss: { idle, end },
    }
  } finally {
    await stopSystem(system)
  }
}

/** The cold-start phase: `count` request/replies at 1 in flight, `before` the usage at start. */
async function runCold(
  system: RunningSystem,
  count: number,
  before: readonly Usage[],
): Promise<{ cold: ColdStart; window: TimeWindow }> {
  const startUs = microsNow()
  const load = await system.requester.request({
    type: 'load',
    options: {
      inFlight: SINGLE,
      count,
      durationMs: count * COLD_CAP_PER_REQUEST,
      windowSize: Math.ceil(count / COLD_WINDOWS),
    },
  })
  const endUs = microsNow()
  const { cpuMicros, cpuPerRequestUs } = cpuSpent(
    system.processes,
    before,
    await usageOf(system.processes),
    load.completed,
  )
  const cold: ColdStart = {
    completed: load.completed,
    errors: load.errors,
    firstError: load.firstError,
    elapsedMs: load.elapsedNs / 1e6,
    firstUs: load.firstNs === undefined ? undefined : load.firstNs / 1e3,
    windows: (load.windows ?? []).map((window) => ({
      after: window.after,
      count: window.count,
      median: window.median / 1e3,
      p99: window.p99 / 1e3,
      mean: window.mean / 1e3,
    })),
    cpuMicros,
    cpuPerRequestUs,
  }
  return { cold, window: { startUs, endUs } }
}

async function runPhase(
  system: RunningSystem,
  inFlight: number,
  warmupMs: number,
  durationMs: number,
): Promise<{ phase: PhaseResult; window: TimeWindow }> {
  if (warmupMs > 0) {
    await system.requester.request({ type: 'load', options: { inFlight, durationMs: warmupMs } })
  }
  const before = await usageOf(system.processes)
  // Read (and so reset) the flood's counts as the phase starts, and again as it ends.
  await system.background?.request({ type: 'registrations' })
  const startUs = microsNow()
  const load: LoadResult = await system.requester.request({
    type: 'load',
    options: { inFlight, durationMs },
  })
  const endUs = microsNow()
  const registrations = await system.background?.request({ type: 'registrations' })
  const { cpuMicros, cpuPerRequestUs } = cpuSpent(
    system.processes,
    before,
    await usageOf(system.processes),
    load.completed,
  )
  const { latency } = load
  const phase: PhaseResult = {
    inFlight,
    completed: load.completed,
    errors: load.errors,
    firstError: load.firstError,
    elapsedMs: load.elapsedNs / 1e6,
    throughput: load.throughput,
    latencyUs:
      latency === undefined
        ? undefined
        : {
            median: latency.median / 1e3,
            p99: latency.p99 / 1e3,
            min: latency.min / 1e3,
            max: latency.max / 1e3,
          },
    cpuMicros,
    cpuPerRequestUs,
    ...(registrations === undefined ? {} : { registrations }),
  }
  return { phase, window: { startUs, endUs } }
}

/** CPU time each process spent between two readings, and all of it per completed request. */
function cpuSpent(
  processes: readonly MeasuredProcess[],
  before: readonly Usage[],
  after: readonly Usage[],
  completed: number,
): { cpuMicros: Record<string, number>; cpuPerRequestUs: number | undefined } {
  const cpuMicros: Record<string, number> = {}
  let total = 0
  processes.forEach((process, index) => {
    const spent = after[index]!.cpuMicros - before[index]!.cpuMicros
    cpuMicros[process.label] = spent
    total += spent
  })
  return { cpuMicros, cpuPerRequestUs: completed === 0 ? undefined : total / completed }
}

function microsNow(): number {
  return Number(process.hrtime.bigint() / 1000n)
}

function usageOf(processes: readonly MeasuredProcess[]): Promise<Usage[]> {
  return Promise.all(processes.map((process) => process.usage()))
}

function rssOf(
  processes: readonly MeasuredProcess[],
  usage: readonly Usage[],
): Record<string, number> {
  const rss: Record<string, number> = {}
  processes.forEach((process, index) => {
    rss[process.label] = usage[index]!.rssBytes
  })
  return rss
}
