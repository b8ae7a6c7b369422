// ExoRelay's requesting service over NATS: one `await relay.send()` per request/reply.
import { ExoRelay } from 'exorelay'
import { serveParent, stackCapture, telemetryIfAsked } from './child.js'
import { PAYLOAD, REQUEST_NAME } from './payload.js'

await telemetryIfAsked()
// stackTraces: the default ('await': the awaiting line, free) unless the run is --no-stacks.
const relay = new ExoRelay({
  serviceName: 'web',
  logger: false,
  ...(stackCapture() ? {} : { stackTraces: false }),
})
await relay.listen()

serveParent({
  port: 0,
  request: async () => await relay.send(REQUEST_NAME, PAYLOAD),
  stop: () => relay.close(),
})
