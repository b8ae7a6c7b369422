import { ErrorCodes, PayloadInvalidError, RemoteHandlerError, TransportError } from './errors.js'
import type { ReceivedMessage } from './message-map.js'
import {
  capIssues,
  isRefusal,
  MAX_ISSUE_COUNT,
  MAX_ISSUE_TEXT,
  payloadInvalid,
} from './payload-validation.js'
import { textStart } from './peer-text.js'

/**
 * The reserved outcome name of an error reply. It has no dot, so ExoCom's namespace
 * translation passes it unchanged. It goes only to relays that declared they understand it
 * (an original relay would take it for a successful reply); a bus that does not route it
 * (the original ExoCom) drops it, and the requester then times out as it always did.
 */
export const ERROR_REPLY = '__error'

/** Codes of the error replies the bus sends by itself, when no handler could run. */
const BUS_REPORTED: ReadonlySet<string> = new Set([
  ErrorCodes.RECEIVER_UNREACHABLE,
  ErrorCodes.UNAUTHORIZED,
])

/** An error as it crosses the wire: data, never a stack. */
export interface WireError {
  code: string
  message: string
  data?: unknown
  /**
   * The service whose handler failed: ExoCom does not forward a reply's `sender`, and the
   * requester's error names the service.
   */
  service?: string
}

/**
 * The wire form of whatever a handler of `service` threw. A coded error
 * (`{ code: 'USERS_DUPLICATE' }`) keeps its code, so the caller can branch on it; `data`
 * travels when it is JSON.
 */
export function toWireError(error: unknown, service?: string): WireError {
  const source = (typeof error === 'object' && error !== null ? error : {}) as Record<
    string,
    unknown
  >
  const refusal = isRefusal(error)
  const wire: WireError = {
    code:
      // Only the bus says that a receiver was unreachable or refused its token (the caller
      // then knows no handler ran): a handler that ran, and let such an error escape, failed.
      // So with a PayloadInvalidError: only this relay's refusal of the caller's payload
      // says PAYLOAD_INVALID; one of the handler's own sends or replies would tell the caller
      // that its payload was refused, by the wrong service. The message says what failed.
      typeof source.code === 'string' &&
      source.code !== '' &&
      !BUS_REPORTED.has(source.code) &&
      (refusal || !(error instanceof PayloadInvalidError))
        ? source.code
        : ErrorCodes.HANDLER_FAILED,
    message:
      typeof source.message === 'string' && source.message !== ''
        ? source.message
        : `The handler failed with ${typeof error === 'string' ? `'${error}'` : 'a non-error value'}.`,
  }
  if (refusal) {
    // What the caller's PayloadInvalidError is rebuilt from (capped again there, as a peer's).
    // A refusal is always of a payload, never of a reply, and its issues were capped when it
    // was made.
    wire.data = { issues: error.issues, issueCount: error.issueCount }
  } else if (source.data !== undefined && isJson(source.data)) wire.data = source.data
  if (service !== undefined) wire.service = service
  return wire
}

/**
 * The caller's side of an error reply to a request named `requestName`. It names the request
 * and the service that failed (the reply's `sender`, when it has one). A malformed reply still
 * becomes a coded error. One the bus sent because the receiver was unreachable, or refused the
 * bus's token, is a `TransportError` with that code: no handler ran.
 */
export function remoteHandlerError(
  reply: ReceivedMessage,
  requestName: string,
): RemoteHandlerError | TransportError | PayloadInvalidError {
  const payload = (
    typeof reply.payload === 'object' && reply.payload !== null ? reply.payload : {}
  ) as Record<string, unknown>
  const code = typeof payload.code === 'string' ? payload.code : ErrorCodes.HANDLER_FAILED
  // A peer's text, perhaps passed on from further down a chain of requests: one plain
  // sentence, never a stack, HTML or a path.
  const text = typeof payload.message === 'string' ? textStart(payload.message) : ''
  if (code === ErrorCodes.RECEIVER_UNREACHABLE) {
    return new TransportError(
      ErrorCodes.RECEIVER_UNREACHABLE,
      text || `The receiver of '${requestName}' is unreachable.`,
    )
  }
  if (code === ErrorCodes.UNAUTHORIZED) {
    return new TransportError(
      ErrorCodes.UNAUTHORIZED,
      text || `The receiver of '${requestName}' refused the token.`,
      { status: 401 },
    )
  }
  // Who failed: the reply's sender where the bus forwards it (NATS), else what the error
  // reply says. A peer's text too: quoted as one plain sentence.
  const named = reply.sender ?? payload.service
  const sender = typeof named === 'string' ? textStart(named) : ''
  if (code === ErrorCodes.PAYLOAD_INVALID || code === ErrorCodes.REPLY_INVALID) {
    return refusedByContract(code, payload.data, requestName, sender)
  }
  const handler = `The handler of '${requestName}'${sender === '' ? '' : ` in service '${sender}'`}`
  const message =
    text === ''
      ? `${handler} failed; its error reply carries no message.`
      : `${handler} failed: ${text}`
  return new RemoteHandlerError(message, code, payload.data)
}

/**
 * A peer's refusal of a payload (or of a reply its handler tried to send) as the caller's
 * `PayloadInvalidError`, rebuilt from the issues in the error reply's `data`, capped again
 * (the peer is not trusted): its text is ours, its issues the peer's.
 */
function refusedByContract(
  code: typeof ErrorCodes.PAYLOAD_INVALID | typeof ErrorCodes.REPLY_INVALID,
  data: unknown,
  requestName: string,
  sender: string,
): PayloadInvalidError {
  const fields = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>
  const issues = Array.isArray(fields.issues) ? fields.issues : []
  const outcome =
    code === ErrorCodes.REPLY_INVALID
      ? typeof fields.outcome === 'string'
        ? textStart(fields.outcome)
        : 'unknown'
      : undefined
  return payloadInvalid(
    requestName,
    outcome,
    sender === '' ? 'unknown' : sender,
    capIssues(issues).map(({ path, message }) => ({
      path: textStart(path, MAX_ISSUE_TEXT),
      message: textStart(message, MAX_ISSUE_TEXT),
    })),
    // The peer's count, unless it is less than what it sent or no count at all, and at most
    // MAX_ISSUE_COUNT (said as "many").
    Math.min(
      typeof fields.issueCount === 'number' && Number.isSafeInteger(fields.issueCount)
        ? Math.max(fields.issueCount, issues.length)
        : issues.length,
      MAX_ISSUE_COUNT,
    ),
  )
}

function isJson(value: unknown): boolean {
  try {
    JSON.stringify(value)
    return true
  } catch {
    return false
  }
}
