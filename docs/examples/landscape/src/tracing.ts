import { ExoRelayInstrumentation } from '@exorelay/opentelemetry'
import { context, propagation, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import {
  BasicTracerProvider,
  SimpleSpanProcessor,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base'

/** The OpenTelemetry SDK of one process, as {@link startTracing} set it up. */
export interface Tracing {
  /** Ends the tracing: exports what is left and unregisters the SDK. */
  stop(): Promise<void>
}

/**
 * Sets up an OpenTelemetry SDK for the whole process, as an application does once at its
 * start: the async context follows awaits (so a handler's sends are its span's children),
 * trace context travels as W3C `traceparent`, and every relay's sends and handler runs become
 * spans (`ExoRelayInstrumentation`), each handed to `exporter` the moment it ends.
 *
 * @example
 * ```ts
 * const tracing = startTracing(new InMemorySpanExporter())
 * // … relays send and handle messages …
 * await tracing.stop()
 * ```
 */
export function startTracing(exporter: SpanExporter): Tracing {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  propagation.setGlobalPropagator(new W3CTraceContextPropagator())
  // One span at a time rather than batched: an example's traffic is small, and a span shows
  // up as soon as it ended.
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  trace.setGlobalTracerProvider(provider)
  const instrumentation = new ExoRelayInstrumentation()
  return {
    async stop() {
      instrumentation.disable()
      await provider.shutdown()
      trace.disable()
      propagation.disable()
      context.disable()
    },
  }
}
