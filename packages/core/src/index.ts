export type { BatchResult } from './batch.js'
export {
  BATCH_ACCEPTED,
  batchEntry,
  batchFailure,
  DEFAULT_BATCH_AFTER,
  MAX_BATCH_BYTES,
  MAX_BATCH_MESSAGES,
  parseBatch,
  parseBatchResults,
  RUN_BATCH_PATH,
  SEND_BATCH_PATH,
  statusOfProtocolError,
  tookNoneOfBatch,
} from './batch.js'
export { diagnostics } from './diagnostics.js'
export type { Envelope, OutgoingEnvelope } from './envelope.js'
export {
  assertMessageName,
  assertPayload,
  createEnvelope,
  createMessageId,
  envelopeBody,
  MAX_ID_LENGTH,
  MAX_NAME_LENGTH,
  parseEnvelope,
} from './envelope.js'
export type { ErrorCode, ExoRelayErrorOptions } from './errors.js'
export {
  AbortError,
  ClosedError,
  ErrorCodes,
  ExoRelayError,
  HandlerError,
  InvalidArgumentError,
  isExoRelayError,
  ListenError,
  ProtocolError,
  RemoteHandlerError,
  TimeoutError,
  TransportError,
} from './errors.js'
export type { Logger } from './logger.js'
export { silentLogger } from './logger.js'
export type { MemoryDelivery } from './memory-transport.js'
export { MemoryBus } from './memory-transport.js'
export type {
  AnyMessages,
  ExpectsReply,
  MessageMap,
  MessageName,
  MessageSpec,
  OutcomeOf,
  PayloadArg,
  PayloadOf,
  ReceivedMessage,
  RepliesOf,
  ReplyEnvelopeOf,
  ReplyPayloadOf,
} from './message-map.js'
export type { Timers } from './pending-replies.js'
export { unrefTimers } from './pending-replies.js'
export type { ServiceRegistration } from './protocol.js'
export { ERROR_CODE_HEADER, runPath, sendPath, servicePath } from './protocol.js'
export type {
  Handler,
  HandlerContext,
  HandlerMap,
  RelayEvents,
  RelayOptions,
  RelayStatus,
  ReplyCallback,
  ReplyContext,
  ReplyingName,
  SendFunction,
  SendOptions,
} from './relay.js'
export {
  checkPort,
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_CONCURRENCY,
  DEFAULT_MAX_QUEUED,
  DEFAULT_TIMEOUT,
  Relay,
} from './relay.js'
export { SentMessage } from './sent-message.js'
export type {
  Endpoint,
  ListenInfo,
  Receipt,
  Receiver,
  Transport,
  TransportSendOptions,
} from './transport.js'
