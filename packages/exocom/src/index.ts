export type { ServiceRegistration } from '@exorelay/http-protocol'
export type {
  BusEvent,
  DeliveryEvent,
  DeliveryOutcome,
  HelloEvent,
  MessageEvent,
  ServiceEvent,
} from './bus-events.js'
export type {
  ExoCom,
  ExoComCredentials,
  ExoComOptions,
  RegistrationAddresses,
} from './exocom.js'
export { DEFAULT_EXOCOM_PORT, startExoCom } from './exocom.js'
export type {
  ExoComConfig,
  ExoComInstance,
  ExoComRoute,
  ExoComService,
  ServiceSource,
} from './routing-table.js'
