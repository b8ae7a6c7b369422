import {
  type Context,
  createTraceState,
  isSpanContextValid,
  type SpanContext,
  TraceFlags,
  trace,
} from '@opentelemetry/api'

/**
 * What carries trace context in ExoRelay: a message's own `traceparent` and `tracestate`,
 * always W3C Trace Context (the bus forwards them; NATS moves them to headers). They are read
 * and written here directly, not through the global propagator: an application that set up a
 * tracer but no propagator, or a B3 one, would otherwise break every trace at the first hop.
 */
export interface TraceCarrier {
  traceparent?: string | undefined
  tracestate?: string | undefined
}

// The relay checked both when the message arrived (or a subscriber set them): only the four
// fields of version 00 are left to read.
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/** `base` with the remote span context a message carries as its parent, if it carries one. */
export function extractFrom(base: Context, carrier: TraceCarrier): Context {
  const match = carrier.traceparent === undefined ? null : TRACEPARENT.exec(carrier.traceparent)
  if (match === null) return base
  const spanContext: SpanContext = {
    traceId: match[1]!,
    spanId: match[2]!,
    traceFlags: Number.parseInt(match[3]!, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  }
  if (carrier.tracestate !== undefined) {
    spanContext.traceState = createTraceState(carrier.tracestate)
  }
  return trace.setSpanContext(base, spanContext)
}

/**
 * Writes the span context as the message's trace context. An invalid one (a non-recording
 * span without parent, as without an SDK) writes nothing: what the message had stays.
 */
export function injectInto(spanContext: SpanContext, carrier: TraceCarrier): void {
  if (!isSpanContextValid(spanContext)) return
  const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, '0')
  carrier.traceparent = `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`
  const state = spanContext.traceState?.serialize()
  if (state) carrier.tracestate = state
  else delete carrier.tracestate
}
