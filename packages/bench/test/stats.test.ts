import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ErrorCodes } from '@exorelay/core'
import { median, percentile, ratio, summarize } from '../src/stats.js'

describe('percentile', () => {
  it('returns the nearest-rank value: the smallest with at least p % of values at or below it', () => {
    const sorted = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert.equal(percentile(sorted, 50), 50)
    assert.equal(percentile(sorted, 90), 90)
    assert.equal(percentile(sorted, 91), 100)
    assert.equal(percentile(sorted, 10), 10)
    assert.equal(percentile(sorted, 100), 100)
  })

  it('picks the slowest of 100 samples as p100 and the 99th as p99', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1)
    assert.equal(percentile(sorted, 99), 99)
    assert.equal(percentile(sorted, 100), 100)
  })

  it('returns the largest value as p99 when there are fewer than 100 samples', () => {
    assert.equal(percentile([1, 2, 3, 4, 5], 99), 5)
  })

  it('returns the only value of a single sample for every percentile', () => {
    assert.equal(percentile([7], 1), 7)
    assert.equal(percentile([7], 99), 7)
  })

  it('always returns a value that was observed, never an interpolation', () => {
    const sorted = [1, 1000]
    for (const p of [1, 25, 50, 75, 99]) assert.ok([1, 1000].includes(percentile(sorted, p)))
  })

  it('rejects a percentile outside (0, 100] with an invalid-option code', () => {
    for (const p of [0, -1, 101, Number.NaN]) {
      assert.throws(() => percentile([1, 2], p), { code: ErrorCodes.INVALID_OPTION })
    }
  })

  it('rejects an empty list with an invalid-option code', () => {
    assert.throws(() => percentile([], 50), { code: ErrorCodes.INVALID_OPTION })
  })
})

describe('median', () => {
  it('returns the middle value of an odd count, in any order', () => {
    assert.equal(median([5, 1, 3]), 3)
  })

  it('returns the mean of the two middle values of an even count', () => {
    assert.equal(median([4, 1, 3, 2]), 2.5)
  })

  it('does not reorder the array it was given', () => {
    const values = [3, 1, 2]
    median(values)
    assert.deepEqual(values, [3, 1, 2])
  })

  it('sorts numerically, not as strings', () => {
    assert.equal(median([100, 9, 20]), 20)
  })

  it('rejects an empty list with an invalid-option code', () => {
    assert.throws(() => median([]), { code: ErrorCodes.INVALID_OPTION })
  })
})

describe('summarize', () => {
  it('reports count, min, median, p99, max and mean of the samples', () => {
    const samples = Float64Array.from({ length: 200 }, (_, i) => 200 - i)
    const summary = summarize(samples)
    assert.deepEqual(summary, {
      count: 200,
      min: 1,
      median: 100.5,
      p99: 198,
      max: 200,
      mean: 100.5,
    })
  })

  it('sorts the samples numerically in place', () => {
    const samples = Float64Array.from([30, 4, 200])
    summarize(samples)
    assert.deepEqual([...samples], [4, 30, 200])
  })

  it('rejects a phase without samples with an invalid-option code', () => {
    assert.throws(() => summarize(new Float64Array(0)), { code: ErrorCodes.INVALID_OPTION })
  })
})

describe('ratio', () => {
  it('divides the first figure by the second', () => {
    assert.equal(ratio(3, 4), 0.75)
  })

  it('is undefined when a figure is missing or the divisor is zero', () => {
    assert.equal(ratio(undefined, 4), undefined)
    assert.equal(ratio(3, undefined), undefined)
    assert.equal(ratio(3, 0), undefined)
  })
})
