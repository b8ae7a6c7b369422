// ExoRelay's answering service: one handler that replies with the payload it got.
import { ExoRelay } from 'exorelay'
import { batches, busPort, serveParent, telemetryIfAsked } from './child.js'
import { REPLY_NAME, REQUEST_NAME } from './payload.js'

await telemetryIfAsked()
const relay = new ExoRelay({
  serviceName: 'users',
  exocomHost: '127.0.0.1',
  exocomPort: busPort(),
  port: 0,
  logger: false,
  batches: batches(),
})
relay.registerHandler(REQUEST_NAME, (payload, { reply }) => reply(REPLY_NAME, payload))
// listen() resolves once the relay has registered with the bus, so requests can be routed.
const port = await relay.listen()

serveParent({
  port,
  stop: () => relay.close(),
})
