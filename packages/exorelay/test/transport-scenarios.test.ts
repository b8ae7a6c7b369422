import { startExoCom } from '@exorelay/exocom'
import { describeTransportScenarios } from '@exorelay/testing'
import { ExoRelay } from '../src/index.js'

// The behaviour every transport shows, through the facade users install: `new ExoRelay()`
// resolves its options, builds the HTTP transport and its logger, and the relays talk through
// the real bus. @exorelay/http-transport runs the same suite on the transport alone; this run
// catches what the facade's wiring could lose. Each scenario gets a bus of its own; relays
// register themselves with it when they listen. `env: {}` keeps the test's environment (an
// EXORELAY_TRANSPORT or EXOCOM_TOKEN of the shell) out of it.
describeTransportScenarios('the ExoRelay facade over HTTP through @exorelay/exocom', async () => {
  const bus = await startExoCom({ port: 0, host: '127.0.0.1', logger: false })
  return {
    relay: (serviceName, options) =>
      new ExoRelay({
        serviceName,
        exocomHost: '127.0.0.1',
        exocomPort: bus.port,
        host: '127.0.0.1',
        port: 0,
        logger: false,
        env: {},
        ...options,
      }),
    cleanup: () => bus.close(),
  }
})
