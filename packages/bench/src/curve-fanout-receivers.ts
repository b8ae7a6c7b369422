// The fan-out curve's receiving services: `BENCH_FAN_OUT` relays with distinct service names
// (fan-1, fan-2, …) in this one process, each receiving `bench.request` and replying with the
// payload. The bus delivers a copy to each (over NATS each service is its own queue group).
// One process rather than one each, so that the curve shows what the bus and the relays do
// per receiver, not how 16 processes share 2 cores.
import { ExoRelay } from 'exorelay'
import { busOptions, fanOut, serveParent } from './child.js'
import { REPLY_NAME, REQUEST_NAME } from './payload.js'

const relays = Array.from({ length: fanOut() }, (_, index) => {
  const relay = new ExoRelay({ serviceName: `fan-${index + 1}`, logger: false, ...busOptions() })
  relay.registerHandler(REQUEST_NAME, (payload, { reply }) => reply(REPLY_NAME, payload))
  return relay
})
// listen() resolves once each relay has registered (HTTP) or subscribed (NATS).
await Promise.all(relays.map((relay) => relay.listen()))

serveParent({
  port: 0,
  async stop() {
    await Promise.all(relays.map((relay) => relay.close()))
  },
})
