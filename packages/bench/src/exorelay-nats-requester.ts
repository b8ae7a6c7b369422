// ExoRelay's requesting service over NATS: one `await relay.send()` per request/reply.
import { ExoRelay } from 'exorelay'
import { serveParent, telemetryIfAsked } from './child.js'
import { PAYLOAD, REQUEST_NAME } from './payload.js'

await telemetryIfAsked()
// No system of the benchmark captures the caller's stack per request (see the systems list).
const relay = new ExoRelay({ serviceName: 'web', logger: false, stackTraces: false })
await relay.listen()

serveParent({
  port: 0,
  request: async () => await relay.send(REQUEST_NAME, PAYLOAD),
  stop: () => relay.close(),
})
