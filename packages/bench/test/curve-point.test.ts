import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { withDeadline } from '@exorelay/testing'
import { cpuPerRequest, measurePhase } from '../src/curve-measure.js'
import { type PointShape, startCurveSystem } from '../src/curve-systems.js'
import { stopSystem } from '../src/scenario.js'

// Real processes (tsx compiles each child on its first start): well within the test timeout.
const DEADLINE = 45_000

async function measureOnePoint(shape: PointShape) {
  const scratch = await mkdtemp(join(tmpdir(), 'curve-point-'))
  try {
    const system = await startCurveSystem('exorelay', shape, { execArgv: () => [], scratch })
    try {
      const phase = await measurePhase(system, 8, { warmupMs: 0, durationMs: 300 })
      return { phase, labels: system.processes.map((process) => process.label) }
    } finally {
      await stopSystem(system)
    }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

describe('a point of a curve, end to end', () => {
  it('runs ExoRelay with two instances of the answering service and a 10 KB payload', async () => {
    const { phase, labels } = await withDeadline(
      measureOnePoint({ responders: 2, payloadBytes: 10_000 }),
      DEADLINE,
      () => 'the point did not finish',
    )
    assert.deepEqual(labels, ['bus', 'responder-2', 'responder', 'requester'])
    assert.equal(phase.errors, 0, phase.firstError)
    assert.ok(phase.completed > 0)
    assert.ok(Object.keys(phase.cpuMicros).includes('responder-2'))
    assert.ok((cpuPerRequest(phase) ?? 0) > 0)
  })

  it('runs the fan-out receivers over ExoCom, every request answered by each receiver', async () => {
    const { phase } = await withDeadline(
      measureOnePoint({ fanOut: 3, routes: { names: 100, services: 10 } }),
      DEADLINE,
      () => 'the point did not finish',
    )
    // The requester fails a request that lacks one of the 3 replies.
    assert.equal(phase.errors, 0, phase.firstError)
    assert.ok(phase.completed > 0)
  })
})
