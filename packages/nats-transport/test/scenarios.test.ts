import { after, before } from 'node:test'
import { Relay } from '@exorelay/core'
import { describeTransportScenarios, type NatsServer, startNatsServer } from '@exorelay/testing'
import { natsTransport } from '../src/nats-transport.js'

// The behaviour every transport shows, over a real nats-server. Scenarios share the server;
// each gets its own subject prefix, so nothing one leaves behind reaches the next.
let server: NatsServer
let scenarios = 0

before(async () => {
  server = await startNatsServer()
})

after(async () => {
  await server.stop()
})

describeTransportScenarios(
  'NATS transport',
  () => {
    const subjectPrefix = `scenario${++scenarios}`
    return {
      relay: (serviceName, options) =>
        new Relay({
          serviceName,
          transport: natsTransport({ servers: server.url, subjectPrefix }),
          ...options,
        }),
      cleanup: async () => {},
    }
  },
  { forwardsSender: true },
)
