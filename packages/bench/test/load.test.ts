import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ErrorCodes } from '@exorelay/core'
import { latencyWindows, runLoad } from '../src/load.js'

describe('runLoad', () => {
  it('completes exactly the requested count and records a latency for each', async () => {
    const result = await runLoad(() => Promise.resolve(), { inFlight: 4, count: 100 })
    assert.equal(result.completed, 100)
    assert.equal(result.errors, 0)
    assert.equal(result.latency?.count, 100)
    assert.ok(result.throughput > 0)
  })

  it('never has more requests in flight than asked, and reaches that many', async () => {
    let inFlight = 0
    let highest = 0
    const request = async (): Promise<void> => {
      inFlight++
      highest = Math.max(highest, inFlight)
      await new Promise<void>((resolve) => setImmediate(resolve))
      inFlight--
    }
    await runLoad(request, { inFlight: 8, count: 200 })
    assert.equal(highest, 8)
  })

  it('stops issuing requests once the duration has passed', async () => {
    let issued = 0
    const request = () => {
      issued++
      return new Promise<void>((resolve) => setImmediate(resolve))
    }
    const result = await runLoad(request, { inFlight: 2, durationMs: 20 })
    assert.ok(result.completed > 0)
    assert.equal(result.completed, issued)
  })

  it('counts failed requests apart, with the first failure, and records no latency for them', async () => {
    let calls = 0
    const request = () =>
      ++calls % 2 === 0 ? Promise.reject(new Error('bus down')) : Promise.resolve()
    const result = await runLoad(request, { inFlight: 1, count: 10 })
    assert.equal(result.completed, 5)
    assert.equal(result.errors, 5)
    assert.equal(result.firstError, 'Error: bus down')
    assert.equal(result.latency?.count, 5)
  })

  it('has no latency summary when nothing completed', async () => {
    const result = await runLoad(() => Promise.reject(new Error('no')), { inFlight: 1, count: 3 })
    assert.equal(result.completed, 0)
    assert.equal(result.latency, undefined)
  })

  it('summarises the latencies in order, in windows, and keeps the first one', async () => {
    let calls = 0
    // The first request/reply waits 200 turns of the event loop, every later one none.
    const request = async (): Promise<void> => {
      if (++calls > 1) return
      for (let turn = 0; turn < 200; turn++)
        await new Promise<void>((resolve) => setImmediate(resolve))
    }
    const result = await runLoad(request, { inFlight: 1, count: 105, windowSize: 10 })
    const windows = result.windows ?? []
    assert.equal(windows.length, 11)
    assert.deepEqual(
      windows.map((window) => [window.after, window.count]),
      [...Array.from({ length: 10 }, (_, index) => [index * 10, 10]), [100, 5]],
    )
    // Nearest-rank p99 of 10 values is the largest: the first request/reply's.
    assert.equal(result.firstNs, windows[0]!.p99)
    assert.ok(result.firstNs! > windows[1]!.p99)
  })

  it('gives no windows unless asked for them', async () => {
    const result = await runLoad(() => Promise.resolve(), { inFlight: 1, count: 10 })
    assert.equal(result.windows, undefined)
    assert.equal(result.firstNs, undefined)
  })

  it('rejects a window size that is not a positive integer', async () => {
    await assert.rejects(
      runLoad(() => Promise.resolve(), { inFlight: 1, count: 1, windowSize: 0 }),
      {
        code: ErrorCodes.INVALID_OPTION,
      },
    )
  })

  it('rejects a phase with neither a duration nor a count', async () => {
    await assert.rejects(
      runLoad(() => Promise.resolve(), { inFlight: 1 }),
      {
        code: ErrorCodes.INVALID_OPTION,
      },
    )
  })

  it('rejects an in-flight level that is not a positive integer', async () => {
    await assert.rejects(
      runLoad(() => Promise.resolve(), { inFlight: 0, count: 1 }),
      {
        code: ErrorCodes.INVALID_OPTION,
      },
    )
  })
})

describe('latencyWindows', () => {
  it('summarises consecutive stretches, the last one shorter, without reordering the input', () => {
    const latencies = Float64Array.from([9, 1, 5, 4, 2, 8, 7])
    assert.deepEqual(latencyWindows(latencies, 3), [
      { after: 0, count: 3, median: 5, p99: 9, mean: 5 },
      { after: 3, count: 3, median: 4, p99: 8, mean: 14 / 3 },
      { after: 6, count: 1, median: 7, p99: 7, mean: 7 },
    ])
    assert.deepEqual([...latencies], [9, 1, 5, 4, 2, 8, 7])
  })
})
