export type {
  AnyMessages,
  BusState,
  BusStatus,
  Contract,
  Envelope,
  ErrorCode,
  Handler,
  HandlerContext,
  HandlerMap,
  Logger,
  MessageMap,
  MessageSchemas,
  MessageSpec,
  MessagesOf,
  PayloadIssue,
  ReceivedMessage,
  RelayEvents,
  RelayStatus,
  ReplyContext,
  SchemaInput,
  SchemaOutput,
  SendFunction,
  SendOptions,
  Transport,
} from '@exorelay/core'
export {
  AbortError,
  ClosedError,
  defineContract,
  ErrorCodes,
  ExoRelayError,
  HandlerError,
  InvalidArgumentError,
  isContract,
  isExoRelayError,
  ListenError,
  MemoryBus,
  PayloadInvalidError,
  ProtocolError,
  Relay,
  RemoteHandlerError,
  SentMessage,
  TimeoutError,
  TransportError,
} from '@exorelay/core'
export type { HttpTransportOptions } from '@exorelay/http-transport'
export { HttpTransport } from '@exorelay/http-transport'
export { DEFAULT_EXOCOM_HOST, DEFAULT_HOST, DEFAULT_PORT } from './config.js'
export type { ExoRelayOptions } from './exo-relay.js'
export { ExoRelay } from './exo-relay.js'
export type { ExoRelayPluginOptions, Register, RegisteredMessages } from './fastify-plugin.js'
export { exorelayPlugin } from './fastify-plugin.js'
export type { LoggerOption } from './logger.js'
