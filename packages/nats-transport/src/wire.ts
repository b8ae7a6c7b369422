import type { Envelope, OutgoingEnvelope, ReceivedMessage } from '@exorelay/core'
import { ErrorCodes, ProtocolError, parseEnvelope } from '@exorelay/core'
import { headers, type Msg, type MsgHdrs } from '@nats-io/transport-node'
import { type HeaderReader, readHeaders } from './header-block.js'
import { decodeName, encodeName } from './subject.js'

/**
 * The NATS headers ExoRelay sets. Values are ASCII. The body carries the id and `responseTo`,
 * the subject the name: headers carry where replies go, and the deadline and W3C trace
 * context, where NATS clients and tracing instrumentations look for them.
 */
export const MessageHeaders = {
  /**
   * On every message a relay sends that is not a reply: where replies to it go. Each reply is
   * published to `<reply-to>.<escaped outcome>`, so the outcome travels in the subject.
   */
  REPLY_TO: 'exorelay-reply-to',
  /**
   * On a reply to a plain NATS request (`nc.request()`), whose reply subject is fixed: the
   * outcome, escaped as in subjects.
   */
  NAME: 'exorelay-name',
  /**
   * On a message that waits for a reply: the whole milliseconds its sender will still wait,
   * counted when it left (the envelope's `timeout`), as decimal digits. A receiver reads any
   * JSON number, as the body key was: not positive is dropped, over a day is a day.
   */
  TIMEOUT: 'exorelay-timeout',
  /** W3C Trace Context: the trace the message belongs to, under the name the spec gives it. */
  TRACEPARENT: 'traceparent',
  /** W3C Trace Context: vendors' state, sent only with a `traceparent`. */
  TRACESTATE: 'tracestate',
} as const

/** Where the replies to a received message go. */
export interface ReplyRoute {
  readonly subject: string
  /**
   * A relay's request: each reply goes to `<subject>.<escaped outcome>`. Otherwise (a plain
   * NATS request) every reply goes to `subject` itself, its outcome in the name header.
   */
  readonly byOutcome: boolean
}

/** The header that routes a message: where its replies go, or a reply's outcome. */
export type RouteHeader = readonly [name: string, value: string]

/**
 * The body of every message: the HTTP protocol's JSON body (`{ id, sender, payload?,
 * responseTo? }`) without the deadline and trace context, which travel as headers. A bridge to
 * ExoCom moves those three between headers and body keys and passes the rest unchanged.
 */
export function encodeBody(envelope: OutgoingEnvelope): string {
  // Written key by key: a copy of the envelope without its header fields, then stringified
  // whole, was one of the larger costs of a message. The keys are the body's own; JSON.parse
  // gives the receiver the same object whatever their order.
  let body = `{"id":${JSON.stringify(envelope.id)},"sender":${JSON.stringify(envelope.sender)}`
  if (envelope.payload !== undefined) {
    // What JSON.stringify leaves out of an object (a function, a symbol) stays out here too.
    const payload = JSON.stringify(envelope.payload)
    if (payload !== undefined) body += `,"payload":${payload}`
  }
  if (envelope.responseTo !== undefined) {
    body += `,"responseTo":${JSON.stringify(envelope.responseTo)}`
  }
  if (envelope.instance !== undefined) body += `,"instance":${JSON.stringify(envelope.instance)}`
  return `${body}}`
}

/**
 * The headers of a message: its route header, deadline and trace context. `undefined` when it
 * has none of them, so that an event or a reply without a trace costs no headers.
 */
export function messageHeaders(envelope: Envelope, route?: RouteHeader): MsgHdrs | undefined {
  const { timeout, traceparent, tracestate } = envelope
  if (route === undefined && timeout === undefined && traceparent === undefined) return undefined
  // append, not set: the headers are new, and set() searches them for the key first.
  const hdrs = headers()
  if (route !== undefined) hdrs.append(route[0], route[1])
  if (timeout !== undefined) hdrs.append(MessageHeaders.TIMEOUT, String(timeout))
  if (traceparent !== undefined) {
    hdrs.append(MessageHeaders.TRACEPARENT, traceparent)
    // A receiver drops a tracestate without its traceparent anyway.
    if (tracestate !== undefined) hdrs.append(MessageHeaders.TRACESTATE, tracestate)
  }
  return hdrs
}

const LINE_BREAK = /[\r\n]/

/**
 * The headers `publish` is given: those of {@link messageHeaders}. Most messages carry only
 * their route and a deadline, a subject and digits, so their block is written at once, as
 * nats.js would write it, rather than built key by key, each checked, in a nats.js MsgHdrs.
 */
export function publishHeaders(envelope: Envelope, route?: RouteHeader): MsgHdrs | undefined {
  const { timeout, traceparent } = envelope
  // A route is a subject, and a subject may hold any character but whitespace: one with a
  // line break (a user's inbox prefix) is left to nats.js to refuse.
  if (traceparent !== undefined || (route !== undefined && LINE_BREAK.test(route[1]))) {
    return messageHeaders(envelope, route)
  }
  if (route === undefined && timeout === undefined) return undefined
  return new EncodedHeaders(route, timeout) as unknown as MsgHdrs
}

/**
 * A header block written as nats.js writes a MsgHdrs (`NATS/1.0`, a `key: value` line each,
 * an empty line). nats.js's `publish()` only calls `encode()` on the headers it is given.
 */
class EncodedHeaders {
  readonly #text: string

  constructor(route: RouteHeader | undefined, timeout: number | undefined) {
    let text = 'NATS/1.0'
    if (route !== undefined) text += `\r\n${route[0]}: ${route[1]}`
    if (timeout !== undefined) text += `\r\n${MessageHeaders.TIMEOUT}: ${timeout}`
    this.#text = `${text}\r\n\r\n`
  }

  encode(): Uint8Array {
    // UTF-8, as nats.js writes: a subject may hold any character (a user's inbox prefix).
    return Buffer.from(this.#text)
  }
}

/** The subject and route header of a reply published on `route`. */
export function replyPublication(
  route: ReplyRoute,
  outcome: string,
): { subject: string; header: RouteHeader | undefined } {
  if (route.byOutcome) {
    return { subject: `${route.subject}.${encodeName(outcome)}`, header: undefined }
  }
  return { subject: route.subject, header: [MessageHeaders.NAME, encodeName(outcome)] }
}

/**
 * The message a relay receives, built by the same parser the HTTP listener uses, so both
 * transports hand the relay identical messages. `name` comes from the subscription (or, for
 * a reply on the inbox, from its subject). The deadline and trace context come from the
 * headers, or from the body of a relay that sent them there before they were headers; a
 * header wins. Both pass the parser's checks: a bad value is dropped, never a reason to refuse
 * the message. Throws a coded `ProtocolError`.
 */
export function fromNatsMessage(name: string, msg: Msg): ReceivedMessage {
  const hdrs = headersOf(msg)
  let body: unknown
  try {
    body = msg.data.length === 0 ? undefined : JSON.parse(msg.string())
  } catch {
    throw new ProtocolError(
      ErrorCodes.INVALID_MESSAGE,
      `message body of '${name}' is not JSON (${msg.data.length} bytes)`,
    )
  }
  if (hdrs !== undefined && body !== null && typeof body === 'object' && !Array.isArray(body)) {
    adoptHeaders(body as Record<string, unknown>, hdrs)
  }
  return parseEnvelope(name, body)
}

/**
 * The headers of a received message, read once (`readHeaders`). A header block that cannot be
 * read (a name with a space) throws; thrown out of a subscription callback, that would stop the
 * connection reading for good, so it is a coded `ProtocolError` here.
 */
export function headersOf(msg: Msg): HeaderReader | undefined {
  try {
    return readHeaders(msg)
  } catch (cause) {
    throw new ProtocolError(
      ErrorCodes.INVALID_MESSAGE,
      `the headers of the message on '${msg.subject}' cannot be read: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    )
  }
}

/** Whether `msg` is the server's "no responders" notice: a message with status 503. */
export function isNoResponders(msg: Msg): boolean {
  try {
    return headersOf(msg)?.code === 503
  } catch {
    // Headers nobody can read are nobody's notice.
    return false
  }
}

// The header holds what the body key held, a JSON number; parseEnvelope then checks it alike.
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/

/**
 * Puts the deadline and trace context of `hdrs` into the parsed body, over what the body has.
 * The trace context is one pair: a body's `tracestate` never joins a header's `traceparent`.
 */
function adoptHeaders(fields: Record<string, unknown>, hdrs: HeaderReader): void {
  const timeout = headerValue(hdrs, MessageHeaders.TIMEOUT)
  if (timeout !== undefined) {
    fields.timeout = JSON_NUMBER.test(timeout) ? Number(timeout) : undefined
  }
  const traceparent = headerValue(hdrs, MessageHeaders.TRACEPARENT)
  if (traceparent !== undefined) {
    fields.traceparent = traceparent
    fields.tracestate = headerValue(hdrs, MessageHeaders.TRACESTATE)
  }
}

/**
 * A header's value, `undefined` when absent. A header given several times reads as HTTP joins
 * repeated fields, with commas: two `tracestate`s make one list, and two `traceparent`s
 * (ambiguous) make a value the checks drop.
 */
function headerValue(hdrs: HeaderReader, name: string): string | undefined {
  const values = hdrs.values(name)
  return values.length === 0 ? undefined : values.join(',')
}

/**
 * The outcome a reply on a relay's inbox names in its subject: `token` is what follows the
 * inbox, `r.<escaped outcome>`. Throws a `ProtocolError` when it names no valid outcome.
 */
export function outcomeOf(token: string, subject: string): string {
  const name = token.startsWith('r.') ? decodeName(token.slice(2)) : undefined
  if (name === undefined || name === '') {
    throw new ProtocolError(
      ErrorCodes.INVALID_MESSAGE,
      `the reply subject '${subject}' names no valid outcome`,
    )
  }
  return name
}

/**
 * Where the replies to a received message go: the relay's reply header, or else the message's
 * NATS reply subject, so that a plain NATS client's `request()` gets the relay's reply.
 * (A relay's own NATS reply subject only collects the server's "no responders" notice.)
 */
export function replyRouteOf(msg: Msg): ReplyRoute | undefined {
  const header = headersOf(msg)?.get(MessageHeaders.REPLY_TO) ?? ''
  const subject = header || msg.reply || ''
  if (subject === '' || /\s/.test(subject)) return undefined
  return { subject, byOutcome: header !== '' }
}
