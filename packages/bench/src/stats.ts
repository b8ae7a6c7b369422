import { ErrorCodes, InvalidArgumentError } from '@exorelay/core'

/**
 * The maths of the report: percentiles of latency samples and medians across rounds.
 * Percentiles use the nearest-rank method on sorted samples, so every figure reported is a
 * latency that was really observed, never an interpolation between two.
 */

/** What one measured phase's latencies boil down to. Times in nanoseconds. */
export interface LatencySummary {
  readonly count: number
  readonly min: number
  readonly median: number
  readonly p99: number
  readonly max: number
  readonly mean: number
}

/**
 * The nearest-rank `p`-th percentile (0 < p <= 100) of ascending `sorted` values: the smallest
 * value such that at least p % of the values are less than or equal to it.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (!(p > 0 && p <= 100)) throw invalid(`A percentile must be in (0, 100], got ${p}.`)
  if (sorted.length === 0)
    throw invalid('A percentile of no values is undefined: got an empty list.')
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(rank, sorted.length) - 1]!
}

/** The median of `values` in any order: the middle value, or the mean of the two middle ones. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw invalid('The median of no values is undefined: got an empty list.')
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/**
 * Summarises latency samples. Sorts `samples` in place: a typed array sorts numerically and
 * fast, which matters for the ~100,000 samples of a throughput phase.
 */
export function summarize(samples: Float64Array): LatencySummary {
  if (samples.length === 0)
    throw invalid('A phase without samples cannot be summarised: got an empty list.')
  samples.sort()
  let total = 0
  for (const sample of samples) total += sample
  const middle = samples.length >> 1
  return {
    count: samples.length,
    min: samples[0]!,
    median:
      samples.length % 2 === 1 ? samples[middle]! : (samples[middle - 1]! + samples[middle]!) / 2,
    p99: percentile(samples, 99),
    max: samples[samples.length - 1]!,
    mean: total / samples.length,
  }
}

/** `a / b`, or `undefined` when either side is missing or `b` is zero, so a table shows "n/a". */
export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || b === undefined || b === 0) return undefined
  return a / b
}

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError(ErrorCodes.INVALID_OPTION, message)
}
