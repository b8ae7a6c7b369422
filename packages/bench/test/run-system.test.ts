import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CONCURRENT, LIGHT, roundSteps, SINGLE } from '../src/run-system.js'

describe('roundSteps', () => {
  it('runs the cold start first, then @1 and @8 before any burst, then the burst and @64', () => {
    assert.deepEqual(
      roundSteps({ coldRequests: 10_000, latencyPhases: true, warmupRequests: 3000 }),
      [
        { kind: 'cold', count: 10_000 },
        { kind: 'phase', inFlight: SINGLE },
        { kind: 'phase', inFlight: LIGHT },
        { kind: 'burst', count: 3000 },
        { kind: 'phase', inFlight: CONCURRENT },
      ],
    )
  })

  it('profiles only the cold start and @64 when the latency phases are left out', () => {
    assert.deepEqual(
      roundSteps({ coldRequests: 2000, latencyPhases: false, warmupRequests: 3000 }),
      [
        { kind: 'cold', count: 2000 },
        { kind: 'burst', count: 3000 },
        { kind: 'phase', inFlight: CONCURRENT },
      ],
    )
  })

  it('leaves out the cold start and the burst when their counts are 0', () => {
    assert.deepEqual(roundSteps({ coldRequests: 0, latencyPhases: true, warmupRequests: 0 }), [
      { kind: 'phase', inFlight: SINGLE },
      { kind: 'phase', inFlight: LIGHT },
      { kind: 'phase', inFlight: CONCURRENT },
    ])
  })
})
