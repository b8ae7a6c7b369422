import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { roundOrder } from '../src/scenario.js'

describe('roundOrder', () => {
  it('starts each round one system later, so that every system runs at every place in turn', () => {
    const systems = ['floor', 'exorelay', 'nats']
    assert.deepEqual(
      [1, 2, 3, 4].map((round) => roundOrder(systems, round)),
      [
        ['floor', 'exorelay', 'nats'],
        ['exorelay', 'nats', 'floor'],
        ['nats', 'floor', 'exorelay'],
        ['floor', 'exorelay', 'nats'],
      ],
    )
  })

  it('leaves the list it was given as it was, and takes one system or none', () => {
    const systems = ['floor', 'exorelay']
    roundOrder(systems, 2)
    assert.deepEqual(systems, ['floor', 'exorelay'])
    assert.deepEqual(roundOrder(['floor'], 5), ['floor'])
    assert.deepEqual(roundOrder([], 3), [])
  })
})
