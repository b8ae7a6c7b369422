// NATS's answering service: a subscription that responds with the payload it got, decoded
// and encoded as JSON like the relays do.
import { connect } from 'nats'
import { natsServer, serveParent } from './child.js'
import { REQUEST_NAME } from './payload.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const nc = await connect({ servers: natsServer() })
nc.subscribe(REQUEST_NAME, {
  callback: (error, message) => {
    if (error !== null) return
    const payload: unknown = JSON.parse(decoder.decode(message.data))
    message.respond(encoder.encode(JSON.stringify(payload)))
  },
})
// The subscription is known to the server once a flush round-trip completed.
await nc.flush()

serveParent({
  port: 0,
  stop: () => nc.drain(),
})
