// ExoRelay's bus: `@exorelay/exocom` as a user would start it, silent. In the ExoRelay system
// services register themselves; in the floor with ExoCom as its bus (`mix-bus`), the floor's
// services do not, so the bus gets the floor's routes as a routing table instead.
import { startExoCom } from '@exorelay/exocom'
import { batches, serveParent } from './child.js'
import { REPLY_NAME, REQUEST_NAME } from './payload.js'

const exocom = await startExoCom({ port: 0, logger: false, batches: batches() })

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
