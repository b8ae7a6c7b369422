// NATS's requesting service: one `await nc.request()` per request/reply (nats.js's shared
// inbox), the payload encoded and the reply decoded as JSON like the relays do.
import { connect } from 'nats'
import { natsServer, serveParent, stackCapture } from './child.js'
import { PAYLOAD, REQUEST_NAME } from './payload.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder()
// noAsyncTraces: the default (false) unless the run is --no-stacks.
const nc = await connect({ servers: natsServer(), noAsyncTraces: !stackCapture() })

async function request(): Promise<unknown> {
  const reply = await nc.request(REQUEST_NAME, encoder.encode(JSON.stringify(PAYLOAD)), {
    timeout: 10_000,
  })
  return JSON.parse(decoder.decode(reply.data))
}

serveParent({
  port: 0,
  request,
  stop: () => nc.drain(),
})
