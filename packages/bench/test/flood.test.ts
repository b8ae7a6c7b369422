import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  dueBy,
  floodRegistration,
  floodServiceName,
  RegistrationTally,
  registrationPath,
} from '../src/flood.js'

describe('dueBy', () => {
  it('makes every service due once per second, spread evenly over the second', () => {
    assert.equal(dueBy(0, 1000), 0)
    assert.equal(dueBy(1, 1000), 1)
    assert.equal(dueBy(5, 1000), 5)
    assert.equal(dueBy(500, 1000), 500)
    assert.equal(dueBy(1000, 1000), 1000)
    assert.equal(dueBy(2500, 1000), 2500)
  })

  it('rounds down between two services and never counts before the start', () => {
    assert.equal(dueBy(9.9, 100), 0)
    assert.equal(dueBy(10, 100), 1)
    assert.equal(dueBy(-5, 1000), 0)
  })

  it('takes another period', () => {
    assert.equal(dueBy(1000, 1000, 5000), 200)
  })
})

describe('floodRegistration', () => {
  it('names a few messages of the service itself, none that the benchmark sends', () => {
    const service = floodRegistration(7)
    assert.equal(service.name, 'svc-7')
    assert.ok(service.receives.length >= 2)
    assert.equal(new Set(service.receives).size, service.receives.length)
    for (const name of service.receives) assert.match(name, /^svc-7\./)
  })

  it('is the same registration each time, at an address of its own', () => {
    assert.deepEqual(floodRegistration(3), floodRegistration(3))
    assert.notEqual(floodRegistration(3).port, floodRegistration(4).port)
    assert.ok(floodRegistration(999).port <= 65_535)
  })

  it('registers at PUT /services/<name>, the name URL-encoded', () => {
    assert.equal(registrationPath(floodServiceName(12)), '/services/svc-12')
    assert.equal(registrationPath('a b'), '/services/a%20b')
  })
})

describe('RegistrationTally', () => {
  it('counts due, completed, failed and skipped PUTs and each whole second', () => {
    const tally = new RegistrationTally(1000)
    for (let i = 0; i < 5; i++) tally.due(true)
    tally.due(false)
    tally.completed(1100, 2)
    tally.completed(1900, 4)
    tally.completed(2100, 6)
    tally.failed(new Error('the bus answered 500'))
    tally.failed(new Error('later'))
    // Completed in the third second, which is not whole yet: counted, not listed by second.
    tally.completed(3200, 8)
    const counts = tally.read(3500)
    assert.equal(counts.elapsedMs, 2500)
    assert.equal(counts.due, 6)
    assert.equal(counts.skipped, 1)
    assert.equal(counts.completed, 4)
    assert.equal(counts.failed, 2)
    assert.equal(counts.firstError, 'Error: the bus answered 500')
    assert.deepEqual(counts.perSecond, [2, 1])
    assert.deepEqual(counts.latencyMs, { median: 5, p99: 8, max: 8 })
  })

  it('lists a second without completions as 0', () => {
    const tally = new RegistrationTally(0)
    tally.completed(2500, 1)
    assert.deepEqual(tally.read(3000).perSecond, [0, 0, 1])
  })

  it('starts afresh after each reading', () => {
    const tally = new RegistrationTally(0)
    tally.due(true)
    tally.completed(10, 1)
    tally.failed('no answer')
    tally.read(1000)
    const counts = tally.read(1500)
    assert.equal(counts.elapsedMs, 500)
    assert.equal(counts.due, 0)
    assert.equal(counts.completed, 0)
    assert.equal(counts.failed, 0)
    assert.equal(counts.firstError, undefined)
    assert.deepEqual(counts.perSecond, [])
    assert.equal(counts.latencyMs, undefined)
  })
})
