// ExoRelay's requesting service: one `await relay.send()` per request/reply, as a user writes it.
import { ExoRelay } from 'exorelay'
import { batches, busPort, serveParent, stackCapture, telemetryIfAsked } from './child.js'
import { PAYLOAD, REQUEST_NAME } from './payload.js'

await telemetryIfAsked()
const relay = new ExoRelay({
  serviceName: 'web',
  exocomHost: '127.0.0.1',
  exocomPort: busPort(),
  port: 0,
  logger: false,
  batches: batches(),
  // The default ('await': the awaiting line, free) unless the run is --no-stacks.
  ...(stackCapture() ? {} : { stackTraces: false }),
})
const port = await relay.listen()

serveParent({
  port,
  request: async () => await relay.send(REQUEST_NAME, PAYLOAD),
  stop: () => relay.close(),
})
