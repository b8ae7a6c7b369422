export type { BusState, BusStatus, HttpTransportOptions } from './http-transport.js'
export { DEFAULT_REGISTER_INTERVAL, HttpTransport } from './http-transport.js'
export type { Mountable } from './mounted.js'
export { mountRelay } from './mounted.js'
