export type { NatsTransportOptions } from './nats-transport.js'
export { natsTransport } from './nats-transport.js'
export {
  DEFAULT_SUBJECT_PREFIX,
  decodeName,
  decodeSubject,
  encodeName,
  encodeSubject,
} from './subject.js'
export { MessageHeaders } from './wire.js'
