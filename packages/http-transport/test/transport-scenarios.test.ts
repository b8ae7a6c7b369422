import { startExoCom } from '@exorelay/exocom'
import { describeTransportScenarios } from '@exorelay/testing'
import { httpRelay } from './relay.js'

// The behaviour every transport shows, over HTTP through the real bus: each scenario gets a
// bus of its own, and relays register themselves with it when they listen.
describeTransportScenarios('HTTP transport through @exorelay/exocom', async () => {
  const bus = await startExoCom({ port: 0, logger: false })
  return {
    relay: (serviceName, options) => httpRelay(serviceName, bus.port, {}, options),
    cleanup: () => bus.close(),
  }
})
