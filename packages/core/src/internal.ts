// Internals shared by the sibling packages (listener, sender, bus). No semver: these may
// change in any release.
export { describeInvalidName, describeValue } from './envelope.js'
export { PendingReplies } from './pending-replies.js'
export { RecentMap } from './recent-map.js'
export { HandlerRegistry } from './registry.js'
export type { ClientErrorHandlerOptions } from './server-hardening.js'
export {
  checkRequestTimeout,
  clientErrorHandler,
  closeCuttingStalled,
  DEFAULT_REQUEST_TIMEOUT,
  serverTimeouts,
} from './server-hardening.js'
export { bearerMatcher, checkToken } from './token.js'
