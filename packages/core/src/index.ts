export type {
  Contract,
  MessageSchemas,
  MessagesOf,
  SchemaInput,
  SchemaOutput,
} from './contract.js'
export { defineContract, isContract } from './contract.js'
export type { HandleTrace, SendTrace } from './diagnostics.js'
export { diagnostics } from './diagnostics.js'
export type { Envelope, OutgoingEnvelope } from './envelope.js'
export {
  assertMessageName,
  assertPayload,
  createEnvelope,
  createMessageId,
  envelopeBody,
  MAX_ID_LENGTH,
  MAX_INSTANCE_LENGTH,
  MAX_NAME_LENGTH,
  MAX_SERVICE_NAME_LENGTH,
  parseEnvelope,
} from './envelope.js'
export type {
  ErrorCode,
  ExoRelayErrorOptions,
  PayloadInvalidDetails,
  PayloadIssue,
} from './errors.js'
export {
  AbortError,
  ClosedError,
  ErrorCodes,
  ExoRelayError,
  HandlerError,
  InvalidArgumentError,
  isExoRelayError,
  ListenError,
  PayloadInvalidError,
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
  PayloadInputOf,
  PayloadOf,
  ReceivedMessage,
  RepliesOf,
  ReplyEnvelopeOf,
  ReplyInputOf,
  ReplyPayloadOf,
} from './message-map.js'
export { checkPort } from './options.js'
export type { Timers } from './pending-replies.js'
export { unrefTimers } from './pending-replies.js'
export {
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_CONCURRENCY,
  DEFAULT_MAX_QUEUED,
  DEFAULT_TIMEOUT,
  Relay,
} from './relay.js'
export type {
  Handler,
  HandlerContext,
  HandlerMap,
  RelayEvents,
  RelayOptions,
  RelayStatus,
  RepliedName,
  ReplyCallback,
  ReplyContext,
  SendFunction,
  SendOptions,
} from './relay-types.js'
export { SentMessage } from './sent-message.js'
export type {
  BusState,
  BusStatus,
  Endpoint,
  ListenInfo,
  Receipt,
  Receiver,
  Transport,
  TransportSendOptions,
} from './transport.js'
