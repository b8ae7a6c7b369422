import type { RegistrationCounts } from './flood.js'
import type { Usage } from './ipc.js'
import type { LoadResult } from './load.js'
import type { MeasuredProcess } from './processes.js'
import { type RunningSystem, type Scenario, type StartOptions, stopSystem } from './scenario.js'

/** Requests in flight in the latency phase. */
export const SINGLE = 1
/** Requests in flight in the throughput phase. */
export const CONCURRENT = 64

/** The longest the start-up warm-up may take, for a system too slow to finish its count. */
const WARMUP_CAP = 30_000

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

/** One round of one system. */
export interface SystemRound {
  readonly system: Scenario['id']
  readonly round: number
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
  readonly inFlight: readonly number[]
  /** Request/replies at 64 in flight before the first phase (JIT warm-up). */
  readonly warmupRequests: number
  readonly warmupMs: number
  readonly durationMs: number
  readonly start: StartOptions
  /**
   * Called after each phase, for progress output; `window` is when the measured part ran, in
   * µs of the monotonic clock that CPU profiles use too.
   */
  readonly onPhase?: ((phase: PhaseResult, window: TimeWindow) => void) | undefined
}

/**
 * Starts a system, measures its idle memory, runs a warm-up and a measured phase for each
 * in-flight level, measures its memory again and stops it. Processes are fresh each round,
 * and only one system runs at a time, so systems never compete for the two cores.
 */
export async function runSystemRound(
  scenario: Scenario,
  options: RoundOptions,
): Promise<SystemRound> {
  const system = await scenario.start(options.start)
  try {
    const idle = rssOf(system.processes, await usageOf(system.processes))
    if (options.warmupRequests > 0) {
      // The first seconds of a fresh system cost several times the CPU of later ones (the JIT
      // compiles, the young heap grows): a count, not a time, so slow systems warm up as much.
      await system.requester.request({
        type: 'load',
        options: { inFlight: CONCURRENT, count: options.warmupRequests, durationMs: WARMUP_CAP },
      })
    }
    const phases: PhaseResult[] = []
    for (const inFlight of options.inFlight) {
      const { phase, window } = await runPhase(
        system,
        inFlight,
        options.warmupMs,
        options.durationMs,
      )
      phases.push(phase)
      options.onPhase?.(phase, window)
    }
    const end = rssOf(system.processes, await usageOf(system.processes))
    return { system: scenario.id, round: options.round, phases, rss: { idle, end } }
  } finally {
    await stopSystem(system)
  }
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
  const after = await usageOf(system.processes)
  const cpuMicros: Record<string, number> = {}
  let totalCpu = 0
  system.processes.forEach((process, index) => {
    const spent = after[index]!.cpuMicros - before[index]!.cpuMicros
    cpuMicros[process.label] = spent
    totalCpu += spent
  })
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
    cpuPerRequestUs: load.completed === 0 ? undefined : totalCpu / load.completed,
    ...(registrations === undefined ? {} : { registrations }),
  }
  return { phase, window: { startUs, endUs } }
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
