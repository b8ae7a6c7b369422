import { MemoryBus, Relay } from '@exorelay/core'
import { describeTransportScenarios } from '../src/transport-scenarios.js'

// The in-memory bus shows the same behaviour as the real transports: tests written against it
// hold over HTTP and NATS.
describeTransportScenarios(
  'the in-memory bus',
  () => {
    const bus = new MemoryBus()
    return {
      relay: (serviceName, options) =>
        new Relay({ serviceName, transport: bus.transport(), ...options }),
      cleanup: async () => {},
    }
  },
  { forwardsSender: true },
)
