import { ENV_NATS_SERVER } from './ipc.js'
import { onNats } from './nats-server.js'
import type { Scenario } from './scenario.js'

/** NATS request/reply: nats-server plus two nats.js services, the reference to beat. */
export const natsScenario: Scenario = {
  id: 'nats',
  title: 'NATS',
  description:
    'nats-server + two nats.js 2 services, nc.request() (its caller-stack capture per request, as by default) / msg.respond() with JSON payloads',
  noStacks: 'noAsyncTraces: true in the requesting service',
  ...onNats((port) => ({ [ENV_NATS_SERVER]: `127.0.0.1:${port}` }), {
    responder: 'nats-responder.ts',
    requester: 'nats-requester.ts',
  }),
}
