import type { OutgoingEnvelope, ReceivedMessage } from '@exorelay/core'
import { ErrorCodes, envelopeBody, ProtocolError, parseEnvelope } from '@exorelay/core'
import { headers, type Msg, type MsgHdrs } from '@nats-io/transport-node'
import { decodeName, encodeName } from './subject.js'

/**
 * The NATS headers ExoRelay sets. Values are ASCII: the name in its subject escaping, ids
 * percent-encoded (a UUID passes unchanged).
 */
export const MessageHeaders = {
  /** The message name (for a reply: the outcome), escaped as in subjects. */
  NAME: 'exorelay-name',
  /** The message id; the body carries it too. */
  ID: 'exorelay-id',
  /** On replies: the id of the message answered; the body carries it too. */
  RESPONSE_TO: 'exorelay-response-to',
  /** On requests: the subject where replies to this message go (the sending connection's inbox). */
  REPLY_TO: 'exorelay-reply-to',
  /** On requests: how many milliseconds the sender waits for replies; absent for no limit. */
  TIMEOUT: 'exorelay-timeout',
} as const

/** Where a request's replies go and for how long the sender waits for them. */
export interface ReplyAddress {
  readonly subject: string
  readonly timeout: number
}

/**
 * The NATS form of an outgoing envelope. The body is exactly the HTTP protocol's JSON body
 * (`{ id, sender, payload?, responseTo? }`), so a message can be bridged to ExoCom unchanged;
 * the headers add what HTTP carries in the URL (the name) and what NATS routing needs.
 */
export function toNatsMessage(
  envelope: OutgoingEnvelope,
  replyTo: ReplyAddress | undefined,
): { body: string; headers: MsgHdrs } {
  const hdrs = headers()
  hdrs.set(MessageHeaders.NAME, encodeName(envelope.name))
  hdrs.set(MessageHeaders.ID, encodeURIComponent(envelope.id))
  if (envelope.responseTo !== undefined) {
    hdrs.set(MessageHeaders.RESPONSE_TO, encodeURIComponent(envelope.responseTo))
  }
  if (replyTo !== undefined) {
    hdrs.set(MessageHeaders.REPLY_TO, replyTo.subject)
    if (Number.isFinite(replyTo.timeout)) {
      hdrs.set(MessageHeaders.TIMEOUT, String(Math.ceil(replyTo.timeout)))
    }
  }
  return { body: JSON.stringify(envelopeBody(envelope)), headers: hdrs }
}

/**
 * The message a relay receives, built by the same parser the HTTP listener uses, so both
 * transports hand the relay identical messages. `name` comes from the subscription (or, for
 * a reply on the inbox, from the name header). Throws a coded `ProtocolError`.
 */
export function fromNatsMessage(name: string, msg: Msg): ReceivedMessage {
  let body: unknown
  try {
    body = msg.data.length === 0 ? undefined : JSON.parse(msg.string())
  } catch {
    throw new ProtocolError(
      ErrorCodes.INVALID_MESSAGE,
      `message body of '${name}' is not JSON (${msg.data.length} bytes)`,
    )
  }
  return { ...parseEnvelope(name, body), name }
}

/** The message name in a reply's headers; throws a `ProtocolError` when missing or malformed. */
export function nameFromHeaders(msg: Msg): string {
  const encoded = msg.headers?.get(MessageHeaders.NAME) ?? ''
  const name = encoded === '' ? undefined : decodeName(encoded)
  if (name === undefined) {
    throw new ProtocolError(
      ErrorCodes.INVALID_MESSAGE,
      `a reply on '${msg.subject}' has no valid ${MessageHeaders.NAME} header, got '${encoded}'`,
    )
  }
  return name
}

/**
 * Where the replies to a received request go: the relay's reply header, or else the message's
 * NATS reply subject, so that a plain NATS client's `request()` gets the relay's reply.
 * (An ExoRelay request's own reply subject only collects the server's "no responders" notice.)
 */
export function replyAddressOf(msg: Msg): ReplyAddress | undefined {
  const subject = msg.headers?.get(MessageHeaders.REPLY_TO) || msg.reply || ''
  if (subject === '' || /\s/.test(subject)) return undefined
  const timeout = Number(msg.headers?.get(MessageHeaders.TIMEOUT) || Number.POSITIVE_INFINITY)
  return { subject, timeout: timeout > 0 ? timeout : Number.POSITIVE_INFINITY }
}
