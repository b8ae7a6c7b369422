import { ErrorCodes, InvalidArgumentError } from '@exorelay/core'
import { type LatencySummary, summarize } from './stats.js'

/** How a closed-loop phase runs: `inFlight` requests at all times, for a duration or a count. */
export interface LoadOptions {
  /** Requests kept in flight: each worker issues its next request when its last one completes. */
  readonly inFlight: number
  /** Stop issuing requests after this many milliseconds. */
  readonly durationMs?: number | undefined
  /** Stop after this many requests in total. When both are given, whichever comes first. */
  readonly count?: number | undefined
  /**
   * Also summarise the latencies in the order the request/replies completed, in windows of
   * this many (the last one may hold fewer): the cold-start phase, at 1 in flight, where order
   * is the point. Summarised here, so that only 20 windows cross the IPC channel.
   */
  readonly windowSize?: number | undefined
}

/** The latencies of consecutive request/replies, in nanoseconds. */
export interface LatencyWindow {
  /** Request/replies completed before this window (0 for the first). */
  readonly after: number
  readonly count: number
  readonly median: number
  readonly p99: number
  readonly mean: number
}

/** What a phase measured. Latencies in nanoseconds; `latency` is absent when nothing completed. */
export interface LoadResult {
  readonly inFlight: number
  readonly completed: number
  readonly errors: number
  readonly firstError: string | undefined
  /** From the first request issued to the last one completed. */
  readonly elapsedNs: number
  /** Completed request/replies per second. */
  readonly throughput: number
  readonly latency: LatencySummary | undefined
  /** With `windowSize`: the first request/reply's latency, in ns, and the windows in order. */
  readonly firstNs?: number | undefined
  readonly windows?: readonly LatencyWindow[] | undefined
}

// A broken system fails every request at once; past this many failures the phase gives up
// rather than spin for its whole duration.
const MAX_ERRORS = 1000

/**
 * Drives `request` in a closed loop and records the latency of each call with
 * `process.hrtime.bigint()`. Runs inside the requesting service's process, so that every
 * system is driven the same way and no extra hop is measured.
 *
 * @example
 * ```ts
 * const result = await runLoad(() => relay.send('bench.request', PAYLOAD), {
 *   inFlight: 64,
 *   durationMs: 5000,
 * })
 * console.log(result.throughput, result.latency?.p99)
 * ```
 */
export async function runLoad(
  request: () => Promise<unknown>,
  options: LoadOptions,
): Promise<LoadResult> {
  const { inFlight, durationMs, count, windowSize } = options
  if (windowSize !== undefined && (!Number.isInteger(windowSize) || windowSize < 1)) {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      `windowSize must be a positive integer, got ${windowSize}.`,
    )
  }
  if (!Number.isInteger(inFlight) || inFlight < 1) {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      `inFlight must be a positive integer, got ${inFlight}.`,
    )
  }
  if (durationMs === undefined && count === undefined) {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      'A load phase needs a durationMs or a count, got neither.',
    )
  }
  const samples = new SampleBuffer()
  let issued = 0
  let errors = 0
  let firstError: string | undefined
  let stopped = false
  const timer =
    durationMs === undefined
      ? undefined
      : setTimeout(() => {
          stopped = true
        }, durationMs)

  const worker = async (): Promise<void> => {
    while (!stopped && (count === undefined || issued < count) && errors < MAX_ERRORS) {
      issued++
      const start = process.hrtime.bigint()
      try {
        await request()
        samples.push(Number(process.hrtime.bigint() - start))
      } catch (error) {
        errors++
        firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error)
      }
    }
  }

  const started = process.hrtime.bigint()
  await Promise.all(Array.from({ length: inFlight }, worker))
  const elapsedNs = Number(process.hrtime.bigint() - started)
  clearTimeout(timer)
  const latencies = samples.values()
  // Before `summarize`, which sorts the samples in place.
  const inOrder =
    windowSize === undefined || latencies.length === 0
      ? {}
      : { firstNs: latencies[0]!, windows: latencyWindows(latencies, windowSize) }
  return {
    inFlight,
    completed: latencies.length,
    errors,
    firstError,
    elapsedNs,
    throughput: latencies.length / (elapsedNs / 1e9),
    latency: latencies.length === 0 ? undefined : summarize(latencies),
    ...inOrder,
  }
}

/** Consecutive `size`-long stretches of `latencies` (the last may be shorter), summarised. */
export function latencyWindows(latencies: Float64Array, size: number): LatencyWindow[] {
  const windows: LatencyWindow[] = []
  for (let after = 0; after < latencies.length; after += size) {
    // A copy: summarize sorts what it is given.
    const { count, median, p99, mean } = summarize(latencies.slice(after, after + size))
    windows.push({ after, count, median, p99, mean })
  }
  return windows
}

/** A growable Float64Array: no boxing, and it sorts numerically. */
class SampleBuffer {
  #data = new Float64Array(1 << 16)
  #length = 0

  push(value: number): void {
    if (this.#length === this.#data.length) {
      const grown = new Float64Array(this.#data.length * 2)
      grown.set(this.#data)
      this.#data = grown
    }
    this.#data[this.#length++] = value
  }

  values(): Float64Array {
    return this.#data.subarray(0, this.#length)
  }
}
