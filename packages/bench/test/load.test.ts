import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ErrorCodes } from '@exorelay/core'
import { runLoad } from '../src/load.js'

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
