export { ExoRelayInstrumentation, type ExoRelayInstrumentationConfig } from './instrumentation.js'
