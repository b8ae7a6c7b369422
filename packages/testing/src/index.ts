export type { MemoryDelivery } from '@exorelay/core'
export { MemoryBus, Relay } from '@exorelay/core'
export { deferred, withDeadline } from './deadline.js'
export { findChromium } from './executables.js'
export type {
  MockSendOptions,
  MockService,
  ReceivedEnvelope,
  ReceivedRequest,
} from './mock-exocom.js'
export { MockExoCom } from './mock-exocom.js'
export type { NatsClusterOptions, NatsServer, NatsServerOptions } from './nats-server.js'
export { findNatsServer, freePort, startNatsCluster, startNatsServer } from './nats-server.js'
export { ORIGINAL_ERROR_PAGE, ORIGINAL_ERROR_PAGE_SENTENCE } from './original-exocom.js'
export type { RawAnswer, RawConnection, RawHttpClient } from './raw-http.js'
export { openRawConnection, rawHttpClient, requestStarted } from './raw-http.js'
export type { LogEntry, LogLevel } from './recording-logger.js'
export { RecordingLogger } from './recording-logger.js'
export type {
  ScenarioRelayOptions,
  TransportCapabilities,
  TransportScenarioSetup,
} from './transport-scenarios.js'
export { describeTransportScenarios } from './transport-scenarios.js'
