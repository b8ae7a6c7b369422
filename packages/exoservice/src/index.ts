export {
  APPLICATION_FILE_NAME,
  type ApplicationFile,
  type ApplicationService,
  readApplicationFile,
} from './application-file.js'
export { ASYNCAPI_VERSION, asyncApiDocument } from './asyncapi.js'
export {
  defineService,
  type LifecycleContext,
  type LifecycleHooks,
  type ServiceDefinition,
} from './define-service.js'
export {
  ExoServiceError,
  type ExoServiceErrorCode,
  ExoServiceErrorCodes,
  type ExoServiceErrorOptions,
  isExoServiceError,
} from './errors.js'
export {
  BUS_NAME,
  DEFAULT_START_TIMEOUT,
  DEFAULT_STOP_GRACE,
  type Landscape,
  type LandscapeEnd,
  type LandscapeService,
  type StartLandscapeOptions,
  startLandscape,
} from './landscape.js'
export {
  checkLandscape,
  type Finding,
  type FindingCode,
  formatFindings,
} from './landscape-check.js'
export {
  type ContractMessage,
  type ContractService,
  type ExportedSchema,
  type LandscapeContracts,
  type LoadedContract,
  loadLandscapeContracts,
} from './landscape-contracts.js'
export {
  createLineWriter,
  type LineWriterOptions,
  type LogRecord,
  type OutputLine,
  parseRecord,
} from './log-output.js'
export {
  DEFAULT_ONLINE_TEXT,
  DEFAULT_SERVER_FILES,
  DEFAULT_STARTUP_COMMAND,
  parseServiceFile,
  readServiceFile,
  SERVICE_FILE_NAME,
  type ServiceFile,
} from './service-file.js'
export { describeExit, type ExitStatus } from './service-process.js'
export {
  DEFAULT_STARTUP_TIMEOUT,
  type RunningService,
  type StartServiceOptions,
  startService,
} from './start-service.js'
export { type SignalStop, type StopOnSignalsOptions, stopOnSignals } from './stop-on-signals.js'
