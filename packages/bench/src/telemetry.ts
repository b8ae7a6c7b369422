// OpenTelemetry in a service of the `*-otel-*` systems, loaded only there (child.ts imports it
// when asked), so that every other system runs without any of OpenTelemetry in its processes.
import { ExoRelayInstrumentation } from '@exorelay/opentelemetry'

/** `api`: the API installed, no SDK; `sdk`: an SDK registered as an application does. */
export type TelemetryMode = 'api' | 'sdk'
export const TELEMETRY_MODES: readonly TelemetryMode[] = ['api', 'sdk']

/**
 * Instruments every relay of the process. With `api` nothing is registered, so the tracer and
 * meter are the API's no-ops and every span is non-recording: what a library user pays who
 * installs the instrumentation but runs no SDK. The SDK's packages are not even loaded then,
 * as in such an application. With `sdk` the SDK records every span and metric and hands them
 * to exporters that discard them (`telemetry-sdk.ts`).
 */
export async function instrument(mode: TelemetryMode): Promise<void> {
  if (mode === 'sdk') (await import('./telemetry-sdk.js')).registerSdk()
  // After the providers, as an application starts its SDK first: the instrumentation takes
  // the global meter when it is made. Its channel subscriptions keep it alive.
  new ExoRelayInstrumentation()
}
