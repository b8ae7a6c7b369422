import type { Envelope } from '@exorelay/core'
import { RawPayload } from './envelope-scan.js'

/**
 * The body every receiver of a message gets: `{id, payload?, responseTo?, timeout?,
 * traceparent?, tracestate?}`. The sender's id passes through unchanged; `sender` and
 * `instance` are not forwarded, as in the original. Deadline and trace context are forwarded as
 * they came (issue 15): the receiver counts the deadline from its arrival there.
 *
 * A payload the bus read from a request (a {@link RawPayload}) is written as the sender wrote
 * it, between the envelope's fields, each written by JSON.stringify: the bus never parses nor
 * serialises it. Any other payload (the bus's own messages, and bodies read by the full parser)
 * is serialised, which throws for nesting JSON.stringify cannot write.
 */
export function forwardedBody(envelope: Envelope): string {
  const { id, payload, responseTo, timeout, traceparent, tracestate } = envelope
  if (!(payload instanceof RawPayload)) {
    return JSON.stringify({ id, payload, responseTo, timeout, traceparent, tracestate })
  }
  // The same keys in the same order as the JSON.stringify above writes them.
  let body = `{"id":${JSON.stringify(id)},"payload":${payload.json}`
  if (responseTo !== undefined) body += `,"responseTo":${JSON.stringify(responseTo)}`
  // A whole number of milliseconds (parseEnvelope rounds it up): written as JSON writes it.
  if (timeout !== undefined) body += `,"timeout":${timeout}`
  if (traceparent !== undefined) body += `,"traceparent":${JSON.stringify(traceparent)}`
  if (tracestate !== undefined) body += `,"tracestate":${JSON.stringify(tracestate)}`
  return `${body}}`
}
