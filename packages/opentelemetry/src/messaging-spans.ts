import type { HandleTrace, SendTrace } from '@exorelay/core'
import {
  type Attributes,
  type Context,
  type Counter,
  context,
  diag,
  type Histogram,
  type Meter,
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
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_CONVERSATION_ID,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  DURATION_BUCKETS,
  MESSAGING_SYSTEM,
  METRIC_CLIENT_CONSUMED_MESSAGES,
  METRIC_CLIENT_OPERATION_DURATION,
  METRIC_CLIENT_SENT_MESSAGES,
  METRIC_PROCESS_DURATION,
} from './attributes.js'
import { extractFrom, injectInto, type TraceCarrier, traceIdOf } from './carrier.js'

interface SpanState {
  span: Span
  started: number
  metricAttributes: Attributes
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
  tracer: Tracer
  /** Set by `setMeterProvider`; else the global meter's, looked up at the first message. */
  instruments: Instruments | undefined
  readonly #globalMeter: () => Meter
  // Each instance's spans, by the trace object the channel hands from start to end: two
  // instances enabled at once must not end each other's spans.
  readonly #states = new WeakMap<object, SpanState>()

  constructor(tracer: Tracer, globalMeter: () => Meter) {
    this.tracer = tracer
    this.#globalMeter = globalMeter
  }

  get #metrics(): Instruments {
    this.instruments ??= createInstruments(this.#globalMeter())
    return this.instruments
  }

  /**
   * A send leaves, in its caller's context: the span's parent is the active span (an HTTP
   * request at the edge, the handler's span inside a handler), unless the message already
   * carries trace context of another trace (a handler whose async context was lost, or an
   * error reply sent where the transport's context is active): then that.
   */
  readonly sendStart = guarded('send start', (message: SendTrace): void => {
    const { envelope } = message
    let parent = context.active()
    if (envelope.traceparent !== undefined) {
      const active = trace.getSpan(parent)?.spanContext()
      if (active === undefined || active.traceId !== traceIdOf(envelope.traceparent)) {
        parent = extractFrom(parent, envelope)
      }
    }
    const { attributes, metricAttributes } = attributesOf('send', envelope)
    const span = this.tracer.startSpan(
      `send ${envelope.name}`,
      { kind: SpanKind.PRODUCER, attributes },
      parent,
    )
    // The receiver's process span becomes this span's child.
    injectInto(span.spanContext(), envelope)
    this.#states.set(message, { span, started: performance.now(), metricAttributes })
  })

  readonly sendEnd = guarded('send end', (message: SendTrace): void => {
    const state = this.#states.get(message)
    if (state === undefined) return
    this.#states.delete(message)
    if (message.error !== undefined) failed(state, message.error, true)
    else if (message.reply !== undefined) {
      state.span.setAttribute(ATTR_EXORELAY_REPLY_OUTCOME, message.reply.name)
    }
    state.span.end()
    const metrics = this.#metrics
    metrics.operationDuration.record(elapsed(state), state.metricAttributes)
    metrics.sentMessages.add(1, state.metricAttributes)
  })

  /**
   * A handler starts: its span continues the message's trace (a message without trace
   * context starts one; the transport's own context, such as the bus's HTTP request, is not
   * its parent), the handler runs in the span's context, and `ctx.traceparent` and the
   * handler's sends carry the span's.
   */
  readonly handleStart = guarded('handle start', (run: HandleTrace): void => {
    const { message } = run
    const parent: Context = extractFrom(ROOT_CONTEXT, message)
    const { attributes, metricAttributes } = attributesOf('process', message, run.serviceName)
    const span = this.tracer.startSpan(
      `process ${message.name}`,
      { kind: SpanKind.CONSUMER, attributes },
      parent,
    )
    const active = trace.setSpan(parent, span)
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
    this.#states.set(run, { span, started: performance.now(), metricAttributes })
    this.#metrics.consumedMessages.add(1, metricAttributes)
  })

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
    state.span.end()
    this.#metrics.processDuration.record(elapsed(state), state.metricAttributes)
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

/**
 * A span's attributes, and the few of them its metrics record (no ids: a metric's attributes
 * must have few values). A handler's service is its consumer group: one instance of it gets
 * each message.
 */
function attributesOf(
  operation: 'send' | 'process',
  message: { name: string; id: string; responseTo?: string | undefined },
  consumerGroup?: string,
): { attributes: Attributes; metricAttributes: Attributes } {
  const metricAttributes: Attributes = {
    [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM,
    [ATTR_MESSAGING_OPERATION_NAME]: operation,
    [ATTR_MESSAGING_DESTINATION_NAME]: message.name,
  }
  if (consumerGroup !== undefined) {
    metricAttributes[ATTR_MESSAGING_CONSUMER_GROUP_NAME] = consumerGroup
  }
  const attributes: Attributes = {
    ...metricAttributes,
    [ATTR_MESSAGING_OPERATION_TYPE]: operation,
    [ATTR_MESSAGING_MESSAGE_ID]: message.id,
  }
  if (message.responseTo !== undefined) {
    attributes[ATTR_MESSAGING_MESSAGE_CONVERSATION_ID] = message.responseTo
  }
  return { attributes, metricAttributes }
}

/**
 * Marks a span failed, with the error's code as `error.type` (as its metrics record it), and
 * the exception recorded when one was thrown.
 */
function failed(state: SpanState, error: unknown, thrown: boolean): void {
  const type = errorType(error)
  state.metricAttributes = { ...state.metricAttributes, [ATTR_ERROR_TYPE]: type }
  state.span.setAttribute(ATTR_ERROR_TYPE, type)
  if (thrown && error instanceof Error) state.span.recordException(error)
  state.span.setStatus({
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
