// ExoRelay's bus: `@exorelay/exocom` as a user would start it, silent.
import { startExoCom } from '@exorelay/exocom'
import { serveParent } from './child.js'

const exocom = await startExoCom({ port: 0, logger: false })

serveParent({
  port: exocom.port,
  stop: () => exocom.close(),
})
