// An OpenTelemetry SDK 2.x as an application registers it, exporting nowhere: for the
// `*-otel-sdk` systems only (telemetry.ts loads it).
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

/**
 * Registers the context manager, the W3C propagator and the tracer and meter providers
 * globally. Every span and measurement is made, sampled, batched and aggregated; the
 * exporters discard them, so the figures are the cost up to the wire, with no collector.
 */
export function registerSdk(): void {
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
