// Moleculer's answering service: a broker with a service `bench` whose action `request`
// returns the params it got (Moleculer's JSON serializer decodes and encodes them).
import { serveParent } from './child.js'
import { moleculerBroker, RESPONDER_NODE } from './moleculer-broker.js'

const broker = moleculerBroker(RESPONDER_NODE)
broker.createService({
  name: 'bench',
  actions: { request: (ctx) => ctx.params },
})
await broker.start()

serveParent({
  // The TCP transporter's port (chosen by the system at start), for the requester's peer list.
  port: broker.registry.nodes.localNode?.port ?? 0,
  stop: () => broker.stop(),
})
