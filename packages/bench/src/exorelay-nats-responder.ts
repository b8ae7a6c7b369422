// ExoRelay's answering service over NATS: the same handler as over HTTP, only the transport
// differs, chosen from the environment as a user would (EXORELAY_TRANSPORT=nats, NATS_URL).
import { ExoRelay } from 'exorelay'
import { serveParent, telemetryIfAsked } from './child.js'
import { REPLY_NAME, REQUEST_NAME } from './payload.js'

await telemetryIfAsked()
const relay = new ExoRelay({ serviceName: 'users', logger: false })
relay.registerHandler(REQUEST_NAME, (payload, { reply }) => reply(REPLY_NAME, payload))
await relay.listen()

serveParent({
  port: 0,
  stop: () => relay.close(),
})
