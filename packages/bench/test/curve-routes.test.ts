import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { extraRegistrations } from '../src/curve-routes.js'

const distinctNames = (registrations: ReturnType<typeof extraRegistrations>) =>
  new Set(registrations.flatMap((service) => service.receives)).size

describe('extraRegistrations', () => {
  it('spreads the names evenly over the services, each name once', () => {
    const registrations = extraRegistrations({ names: 10_000, services: 10 })
    assert.equal(registrations.length, 10)
    assert.equal(distinctNames(registrations), 10_000)
    // The bus takes at most 1,000 names per service.
    for (const service of registrations) assert.equal(service.receives.length, 1000)
  })

  it('lets services share names when there are fewer names than services', () => {
    const registrations = extraRegistrations({ names: 10, services: 1000 })
    assert.equal(registrations.length, 1000)
    assert.equal(distinctNames(registrations), 10)
    for (const service of registrations) assert.equal(service.receives.length, 1)
  })

  it('names distinct services at distinct ports, registered for the longest interval', () => {
    const registrations = extraRegistrations({ names: 1000, services: 1000 })
    assert.equal(new Set(registrations.map((service) => service.name)).size, 1000)
    assert.equal(new Set(registrations.map((service) => service.port)).size, 1000)
    for (const service of registrations) assert.equal(service.registerInterval, 60_000)
  })
})
