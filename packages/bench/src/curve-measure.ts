// One measured phase of a curve's point: a warm-up at the phase's in-flight level, then the
// measured load, with the CPU time every process of the system spent during it.
import type { Usage } from './ipc.js'
import type { RunningSystem } from './scenario.js'

/** What one phase measured; latencies in microseconds, absent when nothing completed. */
export interface CurvePhase {
  readonly inFlight: number
  readonly completed: number
  readonly errors: number
  readonly firstError: string | undefined
  /** Completed request/replies per second. */
  readonly throughput: number
  readonly p50Us: number | undefined
  readonly p99Us: number | undefined
  /** CPU time each process spent during the measured load, in microseconds, by process label. */
  readonly cpuMicros: Readonly<Record<string, number>>
}

/** How long each phase warms up and is measured, in milliseconds. */
export interface PhaseTiming {
  readonly warmupMs: number
  readonly durationMs: number
}

/**
 * The warm-up after a start: `count` request/replies at 64 in flight, or `capMs`, whichever
 * ends first. A count rather than a time, so that every system gets its hot paths compiled.
 */
export async function warmUp(system: RunningSystem, count: number, capMs: number): Promise<void> {
  if (count === 0) return
  await system.requester.request({
    type: 'load',
    options: { inFlight: 64, count, durationMs: capMs },
  })
}

/** Runs one phase at `inFlight` on `system`: warm-up, then the measured load. */
export async function measurePhase(
  system: RunningSystem,
  inFlight: number,
  timing: PhaseTiming,
): Promise<CurvePhase> {
  if (timing.warmupMs > 0) {
    await system.requester.request({
      type: 'load',
      options: { inFlight, durationMs: timing.warmupMs },
    })
  }
  const before = await usages(system)
  const load = await system.requester.request({
    type: 'load',
    options: { inFlight, durationMs: timing.durationMs },
  })
  const after = await usages(system)
  const cpuMicros: Record<string, number> = {}
  system.processes.forEach((process, index) => {
    cpuMicros[process.label] = after[index]!.cpuMicros - before[index]!.cpuMicros
  })
  return {
    inFlight,
    completed: load.completed,
    errors: load.errors,
    firstError: load.firstError,
    throughput: load.throughput,
    p50Us: load.latency === undefined ? undefined : load.latency.median / 1e3,
    p99Us: load.latency === undefined ? undefined : load.latency.p99 / 1e3,
    cpuMicros,
  }
}

function usages(system: RunningSystem): Promise<Usage[]> {
  return Promise.all(system.processes.map((process) => process.usage()))
}

/** All processes' CPU time divided by the completed request/replies, in µs; `label` for one. */
export function cpuPerRequest(phase: CurvePhase, label?: string): number | undefined {
  if (phase.completed === 0) return undefined
  const spent =
    label === undefined
      ? Object.values(phase.cpuMicros).reduce((sum, micros) => sum + micros, 0)
      : phase.cpuMicros[label]
  return spent === undefined ? undefined : spent / phase.completed
}
