// OpenTelemetry in a service of the `*-otel-*` systems, loaded only there (child.ts imports it
// when asked), so that every other system runs without any of OpenTelemetry in its processes.
import { ExoRelayInstrumentation } from '@exorelay/opentelemetry'
import { context, metrics, propagation, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core'
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics'
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base'

/** `api`: the API installed, no SDK; `sdk`: an SDK registered as an application does. */
export type TelemetryMode = 'api' | 'sdk'
export const TELEMETRY_MODES: readonly TelemetryMode[] = ['api', 'sdk']

/**
 * Instruments every relay of the process. With `api` nothing is registered, so the tracer and
 * meter are the API's no-ops and every span is non-recording: what a library user pays who
 * installs the instrumentation but runs no SDK. With `sdk` the SDK records every span and
 * metric and hands them to exporters that discard them: the cost up to the wire, without a
 * collector to send to.
 */
export function instrument(mode: TelemetryMode): void {
  if (mode === 'sdk') registerSdk()
  // After the providers, as an application starts its SDK first: the instrumentation takes
  // the global meter when it is made. Its channel subscriptions keep it alive.
  new ExoRelayInstrumentation()
}

function registerSdk(): void {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  propagation.setGlobalPropagator(new W3CTraceContextPropagator())
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({
      // The processor production uses: spans are queued and exported 512 at a time. The
      // exporter answers at once, so the queue never fills and no span is dropped.
      spanProcessors: [new BatchSpanProcessor(discardSpans)],
    }),
  )
  metrics.setGlobalMeterProvider(
    new MeterProvider({
      // The SDK's default interval (60 s) is longer than a system runs in a round: every
      // measurement is aggregated, none is exported; an export a minute is no per-message cost.
      readers: [new PeriodicExportingMetricReader({ exporter: discardMetrics })],
    }),
  )
}

const discardSpans: SpanExporter = {
  export: (_spans, done) => done({ code: ExportResultCode.SUCCESS }),
  shutdown: async () => {},
}

const discardMetrics: PushMetricExporter = {
  export: (_metrics, done) => done({ code: ExportResultCode.SUCCESS }),
  forceFlush: async () => {},
  shutdown: async () => {},
}
