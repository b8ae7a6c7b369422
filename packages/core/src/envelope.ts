import { randomUUID } from 'node:crypto'
import { ErrorCodes, InvalidArgumentError, ProtocolError } from './errors.js'
import { assignTraceContext } from './trace-context.js'

/**
 * One message as it travels between a relay and the bus. Each transport decides how: the
 * ExoCom HTTP protocol (`@exorelay/http-protocol`) puts the `name` in the URL and the rest in
 * the JSON body.
 */
export interface Envelope<Payload = unknown> {
  /** The message name, e.g. `users.create`; for a reply, the outcome, e.g. `users.created`. */
  name: string
  /** A new unique id per message. */
  id: string
  /** The sending service's name. Always set on what a relay sends; the bus may drop it on delivery. */
  sender?: string
  /** Absent when the message carries no payload (`undefined` or `null` are not sent). */
  payload?: Payload
  /** On replies: the `id` of the message this one answers. */
  responseTo?: string
  /**
   * The sending instance's id, as it registered (an extension, decision 0017): the bus sends
   * replies to this message to that instance of the sender. Set by the transport; the bus
   * does not forward it.
   */
  instance?: string
  /**
   * On a message that waits for a reply: the whole milliseconds its sender will still wait,
   * counted from when it left (relative, so no clocks need to agree). A receiver's deadline
   * is its arrival plus this. An extension (issue 15); the bus forwards it.
   */
  timeout?: number
  /** W3C Trace Context: the trace this message belongs to. Forwarded by the bus. */
  traceparent?: string
  /** W3C Trace Context: vendors' state, with a `traceparent` only. Forwarded by the bus. */
  tracestate?: string
}

/**
 * The longest deadline a message may carry: a day. A longer `timeout` is taken as a day, as
 * gRPC caps its `grpc-timeout`; it still ends.
 */
export const MAX_MESSAGE_TIMEOUT = 86_400_000

/** What a relay hands to its transport: the sender is always known. */
export interface OutgoingEnvelope<Payload = unknown> extends Envelope<Payload> {
  sender: string
}

/** Longest message name a relay sends or accepts. Names are routing keys, not data. */
export const MAX_NAME_LENGTH = 512
/** Longest `id` / `responseTo` accepted from the wire. UUIDs are 36 characters. */
export const MAX_ID_LENGTH = 256
/**
 * Longest service name: a relay's `serviceName`, a message's `sender`, a registration's
 * `name`. A bus keeps the sender of every recent message: it must not be data.
 */
export const MAX_SERVICE_NAME_LENGTH = 256

/** The longest instance id (decision 0017); a relay makes 12 random characters. */
export const MAX_INSTANCE_LENGTH = 128
// Visible ASCII without spaces: it travels in JSON bodies and in the query string of a
// withdrawal, and a log line shows it as it is.
const INSTANCE_ID = new RegExp(`^[\\x21-\\x7e]{1,${MAX_INSTANCE_LENGTH}}$`)

/**
 * Whether `value` can be an instance id: 1 to 128 visible ASCII characters, no spaces. The
 * same rule for a registration's `instance` and a message's.
 */
export function isInstanceId(value: unknown): value is string {
  return typeof value === 'string' && INSTANCE_ID.test(value)
}

/** A new message id. UUID v4 from `node:crypto`: unique without coordination. */
export function createMessageId(): string {
  return randomUUID()
}

/**
 * Why a name cannot be used, or `undefined` when it can. Shared by the relay's own argument
 * checks and the protocol checks of incoming messages, so both sides agree on what a name is.
 */
export function describeInvalidName(name: unknown): string | undefined {
  if (typeof name !== 'string') return `must be a string, got ${describeValue(name)}`
  if (name.length === 0) return 'must not be empty'
  if (name.length > MAX_NAME_LENGTH) {
    return `must be at most ${MAX_NAME_LENGTH} characters, got ${name.length}`
  }
  return undefined
}

/** Throws an `InvalidArgumentError` when `name` is not a usable message name. */
export function assertMessageName(name: unknown, where: string): asserts name is string {
  const problem = describeInvalidName(name)
  if (problem !== undefined) {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_NAME,
      `The message name given to ${where} ${problem}.`,
    )
  }
}

/**
 * Throws when a payload cannot travel as JSON. A function is the classic mistake: a reply
 * callback passed where the payload belongs (`send('x', (reply) => …)`).
 */
export function assertPayload(payload: unknown, where: string): void {
  const kind = typeof payload
  if (kind === 'function' || kind === 'symbol' || kind === 'bigint') {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_PAYLOAD,
      `${where} cannot send a ${kind} as payload: payloads travel as JSON.` +
        (kind === 'function' ? ' Did you forget the payload before the reply callback?' : ''),
    )
  }
}

/**
 * Builds an outgoing envelope with the protocol's key rules: no `payload` key for
 * `undefined`/`null`, no `responseTo` key unless answering.
 */
export function createEnvelope<Payload>(
  name: string,
  sender: string,
  payload: Payload | undefined,
  responseTo?: string,
): OutgoingEnvelope<Payload> {
  const envelope: OutgoingEnvelope<Payload> = { name, id: createMessageId(), sender }
  if (payload !== undefined && payload !== null) envelope.payload = payload
  if (responseTo !== undefined) envelope.responseTo = responseTo
  return envelope
}

/** The JSON body of an envelope: everything but the name, which travels in the URL. */
export function envelopeBody(envelope: Envelope): Omit<Envelope, 'name'> {
  const { name: _name, ...body } = envelope
  return body
}

/**
 * Reads a message body that arrived from the wire into an envelope, or throws a coded
 * `ProtocolError`. Accepts bodies with or without `sender` (ExoCom does not forward it).
 * Keys other than the protocol's are ignored, so a payload can never reach an envelope field.
 */
export function parseEnvelope(name: unknown, body: unknown): Envelope {
  const nameProblem = describeInvalidName(name)
  if (nameProblem !== undefined) {
    // An over-long name is quoted shortened: a 10 KB name must not come back as a 10 KB answer.
    const shown =
      typeof name === 'string' && name.length > MAX_NAME_LENGTH
        ? describeValue(name)
        : `'${String(name)}'`
    throw new ProtocolError(ErrorCodes.UNKNOWN_MESSAGE, `unknown message: ${shown}`)
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    // The original relay answered a missing body exactly like a body without an id.
    if (body === undefined || body === null) {
      throw new ProtocolError(ErrorCodes.MISSING_ID, 'missing message id')
    }
    throw new ProtocolError(
      ErrorCodes.INVALID_MESSAGE,
      `message body must be a JSON object, got ${describeValue(body)}`,
    )
  }
  const fields = body as Record<string, unknown>
  const id = fields.id
  if (id === undefined || id === null || id === '') {
    throw new ProtocolError(ErrorCodes.MISSING_ID, 'missing message id')
  }
  checkWireId(id, 'id')
  const envelope: Envelope = { name: name as string, id: id as string }
  if (fields.responseTo !== undefined && fields.responseTo !== null) {
    checkWireId(fields.responseTo, 'responseTo')
    envelope.responseTo = fields.responseTo as string
  }
  if (typeof fields.sender === 'string') {
    if (fields.sender.length > MAX_SERVICE_NAME_LENGTH) {
      throw new ProtocolError(
        ErrorCodes.INVALID_MESSAGE,
        `message sender must be a service name of at most ${MAX_SERVICE_NAME_LENGTH} characters, got ${describeValue(fields.sender)}`,
      )
    }
    envelope.sender = fields.sender
  }
  if (fields.instance !== undefined && fields.instance !== null) {
    if (!isInstanceId(fields.instance)) {
      throw new ProtocolError(
        ErrorCodes.INVALID_MESSAGE,
        `message instance must be an id of 1 to ${MAX_INSTANCE_LENGTH} visible ASCII characters without spaces, got ${describeValue(fields.instance)}`,
      )
    }
    envelope.instance = fields.instance
  }
  // Deadline and trace context are hints: a bad one is dropped (or a too long deadline cut to
  // a day), never a reason to refuse the message.
  const timeout = fields.timeout
  if (typeof timeout === 'number' && timeout > 0 && Number.isFinite(timeout)) {
    envelope.timeout = Math.min(Math.ceil(timeout), MAX_MESSAGE_TIMEOUT)
  }
  assignTraceContext(envelope, fields.traceparent, fields.tracestate)
  if (fields.payload !== undefined && fields.payload !== null) envelope.payload = fields.payload
  return envelope
}

function checkWireId(value: unknown, field: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_LENGTH) {
    throw new ProtocolError(
      ErrorCodes.INVALID_MESSAGE,
      `message ${field} must be a non-empty string of at most ${MAX_ID_LENGTH} characters, got ${describeValue(value)}`,
    )
  }
}

/** A short, safe rendering of a value for error messages: quoted, truncated, never huge. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value
    return `'${shown}'${value.length > 40 ? ` (${value.length} characters)` : ''}`
  }
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'object') return 'an object'
  return `${typeof value} ${String(value)}`
}
