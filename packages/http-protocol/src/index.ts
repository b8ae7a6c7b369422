export type { ErrorAnswer } from './answers.js'
export { answerOf, STATUS_OF_CODE, statusOf } from './answers.js'
export type { BatchResult } from './batch.js'
export {
  BATCH_ACCEPTED,
  BATCHES_OFFERED,
  batchEntry,
  batchFailure,
  DEFAULT_BATCH_AFTER,
  MAX_BATCH_BYTES,
  MAX_BATCH_MESSAGES,
  MAX_BATCH_RESULTS_BYTES,
  offersBatches,
  parseBatch,
  parseBatchResults,
  RUN_BATCH_PATH,
  SEND_BATCH_PATH,
  tookNoneOfBatch,
} from './batch.js'
export type { ServiceRegistration } from './protocol.js'
export {
  DEFAULT_REGISTER_INTERVAL,
  ERROR_CODE_HEADER,
  lacksSelfRegistration,
  MAX_REGISTER_INTERVAL,
  requestHeaders,
  runPath,
  sendPath,
  servicePath,
  withdrawalPath,
} from './protocol.js'
export type { ClientErrorHandlerOptions } from './server-hardening.js'
export {
  checkRequestTimeout,
  clientErrorHandler,
  closeCuttingStalled,
  DEFAULT_REQUEST_TIMEOUT,
  serverTimeouts,
} from './server-hardening.js'
export { bearerIdentifier, bearerMatcher, checkToken } from './token.js'
