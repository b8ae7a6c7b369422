// W3C Trace Context (https://www.w3.org/TR/trace-context/) as a message carries it: checked
// when it arrives, dropped (never refused) when it is not valid, as the spec asks of a
// receiver. A relay passes what arrived on to the sends of the handler that got it.

// version "-" trace-id "-" parent-id "-" trace-flags, lowercase hex.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/
const ALL_ZEROS = /^0+$/
/** The spec lets a vendor drop a `tracestate` longer than this. */
export const MAX_TRACESTATE_LENGTH = 512
/** The most list-members a `tracestate` may have. */
export const MAX_TRACESTATE_MEMBERS = 32
// A tracestate is printable ASCII: no control characters, nothing a header could not carry.
const PRINTABLE = /^[\x20-\x7e]*$/
const OPTIONAL_WHITESPACE = /^ +| +$/g
// One list-member: a key (simple, or tenant@system) "=" a value of printable ASCII without
// "," and "=", not ending in a space (W3C Trace Context, section 3.3.1).
const TRACESTATE_MEMBER =
  /^(?:[a-z][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/

/**
 * The `traceparent` to keep from a message, or `undefined` to drop it: version `00` exactly as
 * the spec writes it; a later version (never `ff`) by its first four fields, which every
 * version keeps; all-zero ids are invalid.
 */
export function validTraceparent(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 512) return undefined
  const match = TRACEPARENT.exec(value)
  if (match === null) return undefined
  const [, version, traceId, parentId, , rest] = match
  if (version === 'ff' || ALL_ZEROS.test(traceId!) || ALL_ZEROS.test(parentId!)) {
    return undefined
  }
  if (version === '00') return rest === undefined ? value : undefined
  // A later version: what follows the four fields is that version's, which this one does not
  // know; the four fields go on as version 00, the version this relay speaks.
  return `00${value.slice(2, 55)}`
}

/**
 * The `tracestate` to keep, or `undefined`: only with a valid `traceparent`, at most 512
 * characters and 32 list-members, each as the spec writes them (empty members between commas
 * are allowed). A list that breaks the rules is dropped whole, as the spec asks: a vendor
 * cannot tell which of its members to trust.
 */
export function validTracestate(
  value: unknown,
  traceparent: string | undefined,
): string | undefined {
  if (traceparent === undefined || typeof value !== 'string') return undefined
  if (value.length > MAX_TRACESTATE_LENGTH || !PRINTABLE.test(value)) return undefined
  let members = 0
  for (const part of value.split(',')) {
    // The spec's optional whitespace around a member (tabs are not printable: refused above).
    const member = part.replace(OPTIONAL_WHITESPACE, '')
    if (member === '') continue
    if (++members > MAX_TRACESTATE_MEMBERS || !TRACESTATE_MEMBER.test(member)) return undefined
  }
  return members === 0 ? undefined : value
}

/**
 * Puts on `target` the trace context of `traceparent` and `tracestate` that is valid, and
 * removes what is not: what arrives over the wire and what a tracer sets go through the same
 * rules.
 */
export function assignTraceContext(
  target: { traceparent?: string; tracestate?: string },
  traceparent: unknown,
  tracestate: unknown,
): void {
  const validParent = validTraceparent(traceparent)
  const validState = validTracestate(tracestate, validParent)
  if (validParent === undefined) delete target.traceparent
  else target.traceparent = validParent
  if (validState === undefined) delete target.tracestate
  else target.tracestate = validState
}

/** The trace id of a valid `traceparent`: the 32 hex digits after the version. */
export function traceIdOf(traceparent: string): string {
  return traceparent.slice(3, 35)
}
