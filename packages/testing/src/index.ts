export type { MemoryDelivery } from '@exorelay/core'
export { MemoryBus, Relay } from '@exorelay/core'
export type {
  MockSendOptions,
  MockService,
  ReceivedEnvelope,
  ReceivedRequest,
} from './mock-exocom.js'
export { MockExoCom } from './mock-exocom.js'
export type {
  ScenarioRelayOptions,
  TransportCapabilities,
  TransportScenarioSetup,
} from './transport-scenarios.js'
export { describeTransportScenarios } from './transport-scenarios.js'
