import type { OutgoingEnvelope, ReceivedMessage } from '@exorelay/core'
import { ErrorCodes, envelopeBody, ProtocolError, parseEnvelope } from '@exorelay/core'
import { headers, type Msg, type MsgHdrs } from '@nats-io/transport-node'
import { decodeName, encodeName } from './subject.js'

/**
 * The NATS headers ExoRelay sets. Values are ASCII. The body carries the id and `responseTo`;
 * headers carry only what the subject does not say and the body must not: a reply's name
 * (a reply's subject is the requester's inbox) and where and how long a request's replies
 * are awaited.
 */
export const MessageHeaders = {
  /** The message name (for a reply: the outcome), escaped as in subjects. */
  NAME: 'exorelay-name',
  /** On requests: the subject where replies to this message go (the sending connection's inbox). */
  REPLY_TO: 'exorelay-reply-to',
} as const

/**
 * The NATS form of an outgoing envelope. The body is exactly the HTTP protocol's JSON body
 * (`{ id, sender, payload?, responseTo? }`), so a message can be bridged to ExoCom unchanged;
 * the headers add what HTTP carries in the URL (the name) and what NATS routing needs.
 */
export function toNatsMessage(
  envelope: OutgoingEnvelope,
  replyTo: string | undefined,
): { body: string; headers: MsgHdrs } {
  // append, not set: the headers are new, and set() searches them for the key first.
  const hdrs = headers()
  hdrs.append(MessageHeaders.NAME, encodeName(envelope.name))
  if (replyTo !== undefined) hdrs.append(MessageHeaders.REPLY_TO, replyTo)
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
  return parseEnvelope(name, body)
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
export function replyAddressOf(msg: Msg): string | undefined {
  const subject = msg.headers?.get(MessageHeaders.REPLY_TO) || msg.reply || ''
  if (subject === '' || /\s/.test(subject)) return undefined
  return subject
}
