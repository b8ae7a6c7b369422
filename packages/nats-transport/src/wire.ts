import type { OutgoingEnvelope, ReceivedMessage } from '@exorelay/core'
import { ErrorCodes, envelopeBody, ProtocolError, parseEnvelope } from '@exorelay/core'
import { headers, type Msg, type MsgHdrs } from '@nats-io/transport-node'
import { decodeName, encodeName } from './subject.js'

/**
 * The NATS headers ExoRelay sets. Values are ASCII. The body carries the id and `responseTo`,
 * the subject the name: headers carry only what neither can.
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

/**
 * The body of every message: exactly the HTTP protocol's JSON body (`{ id, sender, payload?,
 * responseTo? }`), so a message can be bridged to ExoCom unchanged.
 */
export function encodeBody(envelope: OutgoingEnvelope): string {
  return JSON.stringify(envelopeBody(envelope))
}

/** The headers of a message that is not a reply: where its replies go. */
export function requestHeaders(replyTo: string): MsgHdrs {
  // append, not set: the headers are new, and set() searches them for the key first.
  const hdrs = headers()
  hdrs.append(MessageHeaders.REPLY_TO, replyTo)
  return hdrs
}

/** The subject and headers of a reply published on `route`. */
export function replyPublication(
  route: ReplyRoute,
  outcome: string,
): { subject: string; headers: MsgHdrs | undefined } {
  if (route.byOutcome)
    return { subject: `${route.subject}.${encodeName(outcome)}`, headers: undefined }
  const hdrs = headers()
  hdrs.append(MessageHeaders.NAME, encodeName(outcome))
  return { subject: route.subject, headers: hdrs }
}

/**
 * The message a relay receives, built by the same parser the HTTP listener uses, so both
 * transports hand the relay identical messages. `name` comes from the subscription (or, for
 * a reply on the inbox, from its subject). Throws a coded `ProtocolError`.
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
  const header = msg.headers?.get(MessageHeaders.REPLY_TO) ?? ''
  const subject = header || msg.reply || ''
  if (subject === '' || /\s/.test(subject)) return undefined
  return { subject, byOutcome: header !== '' }
}
