// The ingress shared with the bus (@exorelay/exocom). No semver: these may change in any
// release.
export type { AnswerTexts } from './answer.js'
export { sendErrorAnswer } from './answer.js'
export type { TokenChecked } from './ingress.js'
export {
  addIngressRoutes,
  credentialCheck,
  ingressErrorHandler,
  OPEN_ROUTE,
  tokenCheck,
  wildcardOf,
} from './ingress.js'
export {
  capConnections,
  DEFAULT_MAX_CONNECTIONS,
  listenError,
  protocolServerOptions,
} from './protocol-server.js'
