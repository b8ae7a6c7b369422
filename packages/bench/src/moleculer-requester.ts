// Moleculer's requesting service: one `await broker.call('bench.request', payload)` per
// request/reply, ready only once it saw the responder's service.
import { serveParent } from './child.js'
import { moleculerBroker, REQUESTER_NODE } from './moleculer-broker.js'
import { PAYLOAD, REQUEST_NAME } from './payload.js'

/** How long discovery may take: the TCP transporter gossips every 2 s. */
const DISCOVERY_DEADLINE_MS = 20_000
/** How often to look: Moleculer's default of 1 s would add up to a second to every start. */
const DISCOVERY_CHECK_MS = 50

const broker = moleculerBroker(REQUESTER_NODE)
await broker.start()
try {
  await broker.waitForServices('bench', DISCOVERY_DEADLINE_MS, DISCOVERY_CHECK_MS)
} catch (error) {
  throw new Error(
    `The Moleculer requester did not see the service 'bench' within ${DISCOVERY_DEADLINE_MS} ms ` +
      `(${error instanceof Error ? error.message : String(error)}): is the responder's broker ` +
      'running on the same transporter?',
  )
}

serveParent({
  port: 0,
  request: () => broker.call(REQUEST_NAME, PAYLOAD),
  stop: () => broker.stop(),
})
