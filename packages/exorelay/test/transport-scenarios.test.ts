import { startExoCom } from '@exorelay/exocom'
import { describeTransportScenarios } from '@exorelay/testing'
import { ExoRelay } from '../src/index.js'

// The behaviour every transport shows, over HTTP through the real bus: each scenario gets a
// bus of its own, and relays register themselves with it when they listen.
describeTransportScenarios('HTTP transport through @exorelay/exocom', async () => {
  const bus = await startExoCom({ port: 0, logger: false })
  return {
    relay: (serviceName, options) =>
      new ExoRelay({
        serviceName,
        exocomHost: '127.0.0.1',
        exocomPort: bus.port,
        port: 0,
        logger: false,
        ...options,
      }),
    cleanup: () => bus.close(),
  }
})
