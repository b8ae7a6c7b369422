import type { HandleTrace, SendTrace } from '@exorelay/core'
import { traceIdOf } from '@exorelay/core/internal'
import {
  type Attributes,
  type Context,
  type Counter,
  context,
  createNoopMeter,
  diag,
  type Histogram,
  type Meter,
  type MeterProvider,
  metrics,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api'
import {
  ATTR_ERROR_TYPE,
  ATTR_EXORELAY_REPLY_OUTCOME,
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_MESSAGE_CONVERSATION_ID,
  DURATION_BUCKETS,
  MESSAGING_SYSTEM,
  METRIC_CLIENT_CONSUMED_MESSAGES,
  METRIC_CLIENT_OPERATION_DURATION,
  METRIC_CLIENT_SENT_MESSAGES,
  METRIC_PROCESS_DURATION,
} from './attributes.js'
import { extractFrom, injectInto, type TraceCarrier } from './carrier.js'

interface SpanState {
  /** Without a tracer (no SDK yet), the metrics alone. */
  span: Span | undefined
  started: number
  /** The error's code when it failed, for its metrics. */
  errorType?: string
}

/** The instruments of the messaging conventions. */
export interface Instruments {
  operationDuration: Histogram
  processDuration: Histogram
  sentMessages: Counter
  consumedMessages: Counter
}

export function createInstruments(meter: Meter): Instruments {
  const advice = { explicitBucketBoundaries: DURATION_BUCKETS }
  return {
    operationDuration: meter.createHistogram(METRIC_CLIENT_OPERATION_DURATION, {
      description:
        'Duration of a send: until the bus took it, or for a request until its reply came.',
      unit: 's',
      advice,
    }),
    processDuration: meter.createHistogram(METRIC_PROCESS_DURATION, {
      description: 'Duration of a handler run.',
      unit: 's',
      advice,
    }),
    sentMessages: meter.createCounter(METRIC_CLIENT_SENT_MESSAGES, {
      description: 'Messages a relay tried to send.',
      unit: '{message}',
    }),
    consumedMessages: meter.createCounter(METRIC_CLIENT_CONSUMED_MESSAGES, {
      description: 'Messages handed to a handler.',
      unit: '{message}',
    }),
  }
}

/**
 * Spans and metrics from ExoRelay's two tracing channels: a PRODUCER span per send (a request's
 * until its reply), a CONSUMER span per handler run, whose context the handler runs in and
 * its sends carry on.
 */
export class MessagingSpans {
  /** Set by `setTracerProvider`; else the global tracer, which follows a provider set later. */
  tracer: Tracer | undefined
  /** Set by `setMeterProvider`; else the global meter provider's, while one is registered. */
  instruments: Instruments | undefined
  readonly #name: string
  readonly #version: string
  readonly #globalTracer: Tracer
  // Each instance's spans, by the trace object the channel hands from start to end: two
  // instances enabled at once must not end each other's spans.
  readonly #states = new WeakMap<object, SpanState>()
  // Once an SDK registered a global tracer provider: it cannot be taken back.
  #globalSdk = false
  #globalMeterProvider: MeterProvider | undefined
  #globalInstruments: Instruments | undefined

  constructor(name: string, version: string) {
    this.#name = name
    this.#version = version
    this.#globalTracer = trace.getTracer(name, version)
  }

  /**
   * The tracer, or `undefined` while no SDK is registered and none was handed over: every
   * span would be a no-op.
   */
  get #tracer(): Tracer | undefined {
    if (this.tracer !== undefined) return this.tracer
    if (!this.#globalSdk) {
      const provider = trace.getTracerProvider()
      if (provider instanceof ProxyTracerProvider) {
        if (provider.getDelegateTracer(this.#name, this.#version) === undefined) return undefined
      }
      this.#globalSdk = true
    }
    return this.#globalTracer
  }

  /**
   * The instruments, or `undefined` while no meter provider is registered and none was handed
   * over. The global provider is checked on each message: the metrics API has no proxy that
   * would follow one registered later.
   */
  get #instruments(): Instruments | undefined {
    if (this.instruments !== undefined) return this.instruments
    const provider = metrics.getMeterProvider()
    if (provider !== this.#globalMeterProvider) {
      this.#globalMeterProvider = provider
      const meter = provider.getMeter(this.#name, this.#version)
      this.#globalInstruments = meter === createNoopMeter() ? undefined : createInstruments(meter)
    }
    return this.#globalInstruments
  }

  /**
   * A send leaves, in its caller's context: the span's parent is the active span (an HTTP
   * request at the edge, the handler's span inside a handler), unless the message already
   * carries trace context of another trace (a handler whose async context was lost, or an
   * error reply sent where the transport's context is active): then that. Without an SDK
   * (no tracer, no meter) it does nothing at all.
   */
  readonly sendStart = guarded('send start', (message: SendTrace): void => {
    const tracer = this.#tracer
    if (tracer === undefined && this.#instruments === undefined) return
    const { envelope } = message
    let span: Span | undefined
    if (tracer !== undefined) {
      let parent = context.active()
      if (envelope.traceparent !== undefined) {
        const active = trace.getSpan(parent)?.spanContext()
        if (active === undefined || active.traceId !== traceIdOf(envelope.traceparent)) {
          parent = extractFrom(parent, envelope)
        }
      }
      span = tracer.startSpan(
        `send ${envelope.name}`,
        { kind: SpanKind.PRODUCER, attributes: spanAttributesOf('send', envelope) },
        parent,
      )
      // The receiver's process span becomes this span's child.
      injectInto(span.spanContext(), envelope)
    }
    this.#states.set(message, { span, started: performance.now() })
  })

  readonly sendEnd = guarded('send end', (message: SendTrace): void => {
    const state = this.#states.get(message)
    if (state === undefined) return
    this.#states.delete(message)
    if (message.error !== undefined) failed(state, message.error, true)
    else if (message.reply !== undefined) {
      state.span?.setAttribute(ATTR_EXORELAY_REPLY_OUTCOME, message.reply.name)
    }
    state.span?.end()
    const instruments = this.#instruments
    if (instruments === undefined) return
    const attributes = metricAttributesOf(state, 'send', message.envelope.name, undefined)
    instruments.operationDuration.record(elapsed(state), attributes)
    instruments.sentMessages.add(1, attributes)
  })

  /**
   * A handler starts: its span continues the message's trace (a message without trace
   * context starts one; the transport's own context, such as the bus's HTTP request, is not
   * its parent), the handler runs in the span's context, and `ctx.traceparent` and the
   * handler's sends carry the span's. A span that records nothing (sampled out) changes
   * nothing: the message's own trace context goes on.
   */
  readonly handleStart = guarded('handle start', (run: HandleTrace): void => {
    const tracer = this.#tracer
    const instruments = this.#instruments
    if (tracer === undefined && instruments === undefined) return
    const { message } = run
    let span: Span | undefined
    if (tracer !== undefined) {
      const parent: Context = extractFrom(ROOT_CONTEXT, message)
      span = tracer.startSpan(
        `process ${message.name}`,
        {
          kind: SpanKind.CONSUMER,
          attributes: spanAttributesOf('process', message, run.serviceName),
        },
        parent,
      )
      if (span.isRecording()) this.#runInSpan(run, trace.setSpan(parent, span), span)
    }
    const state: SpanState = { span, started: performance.now() }
    this.#states.set(run, state)
    instruments?.consumedMessages.add(
      1,
      metricAttributesOf(state, 'process', message.name, run.serviceName),
    )
  })

  /** The handler runs in its span's context, and goes on with its trace context. */
  #runInSpan(run: HandleTrace, active: Context, span: Span): void {
    const carrier: TraceCarrier = {}
    injectInto(span.spanContext(), carrier)
    if (carrier.traceparent !== undefined) {
      run.traceparent = carrier.traceparent
      run.tracestate = carrier.tracestate
    }
    const inner = run.runHandler
    run.runHandler =
      inner === undefined
        ? (handler) => context.with(active, handler)
        : (handler) => context.with(active, () => inner(handler))
  }

  /** `end` ends the span of a handler that returned no promise; `asyncEnd` the others'. */
  readonly handleEnd = guarded('handle end', (run: HandleTrace): void => {
    if (!run.async) this.#handleSettled(run)
  })

  readonly handleAsyncEnd = guarded('handle end', (run: HandleTrace): void => {
    this.#handleSettled(run)
  })

  #handleSettled(run: HandleTrace): void {
    const state = this.#states.get(run)
    if (state === undefined) return
    this.#states.delete(run)
    // A handler that returned normally after it was told to stop did its work for nobody:
    // that shows as a failure too, with why (deadline, cancellation, close), though nothing
    // was thrown.
    if (run.error !== undefined) failed(state, run.error, true)
    else if (run.stopped !== undefined) failed(state, run.stopped, false)
    state.span?.end()
    this.#instruments?.processDuration.record(
      elapsed(state),
      metricAttributesOf(state, 'process', run.message.name, run.serviceName),
    )
  }
}

/**
 * A channel subscriber that never throws: `node:diagnostics_channel` would rethrow on the next
 * tick and crash the service over a tracing bug. The failure goes to OpenTelemetry's own log.
 */
function guarded<T>(what: string, handler: (message: T) => void): (message: T) => void {
  return (message) => {
    try {
      handler(message)
    } catch (error) {
      diag.error(`@exorelay/opentelemetry: the ${what} handler failed`, error)
    }
  }
}

// How many sets of metric attributes are kept for reuse: one per message name, operation and
// service; names are few, and past this bound each is made anew.
const MAX_CACHED_METRIC_ATTRIBUTES = 1_000
// By operation and service, then by message name: no key string to build per message.
const metricAttributesCache = new Map<string, Map<string, Attributes>>()
let cachedMetricAttributes = 0

/**
 * The few attributes a span's metrics record (no ids: a metric's attributes must have few
 * values), one shared frozen object per message name, operation and service, plus
 * `error.type` when it failed. A handler's service is its consumer group: one instance of it
 * gets each message.
 */
function metricAttributesOf(
  state: SpanState,
  operation: 'send' | 'process',
  name: string,
  consumerGroup: string | undefined,
): Attributes {
  const group = consumerGroup === undefined ? operation : `${operation} ${consumerGroup}`
  let byName = metricAttributesCache.get(group)
  let attributes = byName?.get(name)
  if (attributes === undefined) {
    // Literal keys, not the computed constants: V8 builds a literal with fixed keys fast.
    attributes = {
      'messaging.system': MESSAGING_SYSTEM,
      'messaging.operation.name': operation,
      'messaging.destination.name': name,
    }
    if (consumerGroup !== undefined) attributes[ATTR_MESSAGING_CONSUMER_GROUP_NAME] = consumerGroup
    Object.freeze(attributes)
    if (cachedMetricAttributes < MAX_CACHED_METRIC_ATTRIBUTES) {
      cachedMetricAttributes++
      if (byName === undefined) {
        byName = new Map()
        metricAttributesCache.set(group, byName)
      }
      byName.set(name, attributes)
    }
  }
  // Failures are rare: a new object for them costs nothing worth a cache.
  if (state.errorType === undefined) return attributes
  return { ...attributes, 'error.type': state.errorType }
}

/** A span's attributes, as the messaging conventions name them. */
function spanAttributesOf(
  operation: 'send' | 'process',
  message: { name: string; id: string; responseTo?: string | undefined },
  consumerGroup?: string,
): Attributes {
  const attributes: Attributes = {
    'messaging.system': MESSAGING_SYSTEM,
    'messaging.operation.name': operation,
    'messaging.operation.type': operation,
    'messaging.destination.name': message.name,
    'messaging.message.id': message.id,
  }
  if (consumerGroup !== undefined) attributes[ATTR_MESSAGING_CONSUMER_GROUP_NAME] = consumerGroup
  if (message.responseTo !== undefined) {
    attributes[ATTR_MESSAGING_MESSAGE_CONVERSATION_ID] = message.responseTo
  }
  return attributes
}

/**
 * Marks a span failed, with the error's code as `error.type` (as its metrics record it), and
 * the exception recorded when one was thrown.
 */
function failed(state: SpanState, error: unknown, thrown: boolean): void {
  const type = errorType(error)
  state.errorType = type
  const { span } = state
  if (span === undefined) return
  span.setAttribute(ATTR_ERROR_TYPE, type)
  if (thrown && error instanceof Error) span.recordException(error)
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  })
}

/** The error's code (`EXORELAY_ERR_REPLY_TIMEOUT`), else its class, else `_OTHER`. */
export function errorType(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    if (typeof code === 'string' && code !== '') return code
    return error.name || error.constructor.name || '_OTHER'
  }
  return '_OTHER'
}

function elapsed(state: SpanState): number {
  return (performance.now() - state.started) / 1000
}
