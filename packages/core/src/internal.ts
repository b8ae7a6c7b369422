// Internals shared by the sibling packages (listener, sender, bus). No semver: these may
// change in any release.
export { formatDuration } from './duration.js'
export { describeInvalidName, describeValue, isInstanceId } from './envelope.js'
export { ERROR_REPLY } from './error-reply.js'
export { CANCEL } from './handler-context.js'
export type { LogFormat } from './log-format.js'
export { defaultLogFormat } from './log-format.js'
export { formatMessageLine } from './message-line.js'
export { noReceiverError } from './no-receiver.js'
export {
  checkBoolean,
  checkFunction,
  checkInteger,
  checkNonEmptyString,
  checkTimeout,
  invalidOption,
  missingOption,
} from './options.js'
export { FORBIDDEN_TEXT_LENGTH, QUOTED_TEXT_LENGTH, textStart } from './peer-text.js'
export type { GenerationWeight } from './recent-map.js'
export { RecentMap } from './recent-map.js'
export { traceIdOf } from './trace-context.js'
