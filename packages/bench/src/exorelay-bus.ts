// ExoRelay's bus: `@exorelay/exocom` as a user would start it, silent. In the ExoRelay system
// services register themselves; in the floor with ExoCom as its bus (`mix-bus`), the floor's
// services do not, so the bus gets the floor's routes as a routing table instead.
import { startExoCom } from '@exorelay/exocom'
import { batches, extraServices, floodServices, serveParent } from './child.js'
import { ENV_EXTRA_SERVICES, ENV_FLOOD_SERVICES } from './ipc.js'
import { REPLY_NAME, REQUEST_NAME } from './payload.js'

// Under the registration flood (`exorelay-flood`), the bus holds the flood's services too;
// in the routes curve (`npm run curves`), the services registered to fill its table.
const others =
  (process.env[ENV_FLOOD_SERVICES] === undefined ? 0 : floodServices()) +
  (process.env[ENV_EXTRA_SERVICES] === undefined ? 0 : extraServices())

const exocom = await startExoCom({
  port: 0,
  logger: false,
  batches: batches(),
  // ISSUE 14 maxServices: the bus's cap (default 1,000) raised for the others plus the benchmark's own services.
  ...(others > 0 && { maxServices: others + 16 }),
})

serveParent({
  port: exocom.port,
  routes(table) {
    exocom.setServices([
      { name: 'users', host: '127.0.0.1', port: table[REQUEST_NAME]!, receives: [REQUEST_NAME] },
      { name: 'web', host: '127.0.0.1', port: table[REPLY_NAME]!, receives: [REPLY_NAME] },
    ])
  },
  stop: () => exocom.close(),
})
