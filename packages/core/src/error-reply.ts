import { ErrorCodes, RemoteHandlerError, TransportError } from './errors.js'
import type { ReceivedMessage } from './message-map.js'
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
  const wire: WireError = {
    code:
      // Only the bus says that a receiver was unreachable or refused its token (the caller
      // then knows no handler ran): a handler that ran, and let such an error escape, failed.
      typeof source.code === 'string' && source.code !== '' && !BUS_REPORTED.has(source.code)
        ? source.code
        : ErrorCodes.HANDLER_FAILED,
    message:
      typeof source.message === 'string' && source.message !== ''
        ? source.message
        : `The handler failed with ${typeof error === 'string' ? `'${error}'` : 'a non-error value'}.`,
  }
  if (source.data !== undefined && isJson(source.data)) wire.data = source.data
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
): RemoteHandlerError | TransportError {
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
  const handler = `The handler of '${requestName}'${sender === '' ? '' : ` in service '${sender}'`}`
  const message =
    text === ''
      ? `${handler} failed; its error reply carries no message.`
      : `${handler} failed: ${text}`
  return new RemoteHandlerError(message, code, payload.data)
}

function isJson(value: unknown): boolean {
  try {
    JSON.stringify(value)
    return true
  } catch {
    return false
  }
}
