import { EventEmitter } from 'node:events'
import { withDeadline } from '@exorelay/testing'
import { context, propagation, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  MeterProvider,
  MetricReader,
} from '@opentelemetry/sdk-metrics'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { ExoRelayInstrumentation } from '../src/index.js'

/** A span processor that tells when a span ended, so that tests wait for events, not time. */
function endedProcessor(ended: EventEmitter): SpanProcessor {
  return {
    onStart() {},
    onEnd: (span) => {
      // After the exporter's processor, which runs first: the span is among the finished.
      queueMicrotask(() => ended.emit('span', span))
    },
    forceFlush: async () => {},
    shutdown: async () => {},
  }
}

/** A metric reader the test asks when it wants the figures. */
class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE })
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/**
 * An OpenTelemetry SDK as an application sets one up (context manager, W3C propagator,
 * tracer and meter providers), with an in-memory exporter and an instrumentation handed the
 * providers as `registerInstrumentations` would.
 */
export function startTelemetry() {
  const contextManager = new AsyncLocalStorageContextManager().enable()
  context.setGlobalContextManager(contextManager)
  propagation.setGlobalPropagator(new W3CTraceContextPropagator())
  const exporter = new InMemorySpanExporter()
  const ended = new EventEmitter()
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter), endedProcessor(ended)],
  })
  const reader = new TestReader()
  const meterProvider = new MeterProvider({ readers: [reader] })
  const instrumentation = new ExoRelayInstrumentation()
  instrumentation.setTracerProvider(tracerProvider)
  instrumentation.setMeterProvider(meterProvider)
  const tracer = tracerProvider.getTracer('test')
  return {
    instrumentation,
    exporter,
    tracer,
    tracerProvider,
    /**
     * Waits until spans of every name in `names` have ended (a reply's span ends after the
     * request it answers resolved); fails naming the missing ones after `deadline` ms.
     */
    async ended(names: string[], deadline = 5_000): Promise<Map<string, ReadableSpan>> {
      const missing = () => names.filter((name) => !this.spans().has(name))
      if (missing().length === 0) return this.spans()
      const done = new Promise<void>((resolve) => {
        const check = () => {
          if (missing().length > 0) return
          ended.off('span', check)
          resolve()
        }
        ended.on('span', check)
      })
      await withDeadline(done, deadline, () => `spans never ended: ${missing().join(', ')}`)
      return this.spans()
    },
    /** The finished spans, by name (the first of each name). */
    spans(): Map<string, ReadableSpan> {
      const byName = new Map<string, ReadableSpan>()
      for (const span of exporter.getFinishedSpans()) {
        if (!byName.has(span.name)) byName.set(span.name, span)
      }
      return byName
    },
    /** The data points of a metric, by its name. */
    async points(name: string): Promise<DataPoint<number | Histogram>[]> {
      const { resourceMetrics } = await reader.collect()
      const points: DataPoint<number | Histogram>[] = []
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) {
          if (metric.descriptor.name === name) {
            points.push(...(metric.dataPoints as DataPoint<number | Histogram>[]))
          }
        }
      }
      return points
    },
    async stop() {
      instrumentation.disable()
      await tracerProvider.shutdown()
      await meterProvider.shutdown()
      trace.disable()
      propagation.disable()
      context.disable()
    },
  }
}
