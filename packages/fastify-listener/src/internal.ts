// The ingress shared with the bus (@exorelay/exocom). No semver: these may change in any
// release.
export type { AnswerTexts } from './answer.js'
export { PHRASES, sendErrorAnswer } from './answer.js'
export type { IngressOptions } from './ingress.js'
export {
  addIngressRoutes,
  frameworkErrors,
  ingressErrorHandler,
  OPEN_ROUTE,
  sendResult,
  tokenCheck,
  wildcardOf,
} from './ingress.js'
