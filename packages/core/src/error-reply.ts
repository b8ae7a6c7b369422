import { ErrorCodes, RemoteHandlerError } from './errors.js'
import type { ReceivedMessage } from './message-map.js'

/**
 * The reserved outcome name of an error reply. It has no dot, so ExoCom's namespace
 * translation passes it unchanged; a bus that does not route it (the original ExoCom) drops
 * it, and the requester then times out as it always did: degraded, never broken.
 */
export const ERROR_REPLY = '__error'

/** An error as it crosses the wire: data, never a stack. */
export interface WireError {
  code: string
  message: string
  data?: unknown
}

/**
 * The wire form of whatever a handler threw. A coded error (`{ code: 'USERS_DUPLICATE' }`)
 * keeps its code, so the caller can branch on it; `data` travels when it is JSON.
 */
export function toWireError(error: unknown): WireError {
  const source = (typeof error === 'object' && error !== null ? error : {}) as Record<
    string,
    unknown
  >
  const wire: WireError = {
    code:
      typeof source.code === 'string' && source.code !== ''
        ? source.code
        : ErrorCodes.HANDLER_FAILED,
    message:
      typeof source.message === 'string' && source.message !== ''
        ? source.message
        : `The handler failed with ${typeof error === 'string' ? `'${error}'` : 'a non-error value'}.`,
  }
  if (source.data !== undefined && isJson(source.data)) wire.data = source.data
  return wire
}

/** The caller's side of an error reply. A malformed one still becomes a coded error. */
export function remoteHandlerError(reply: ReceivedMessage): RemoteHandlerError {
  const payload = (
    typeof reply.payload === 'object' && reply.payload !== null ? reply.payload : {}
  ) as Record<string, unknown>
  const code = typeof payload.code === 'string' ? payload.code : ErrorCodes.HANDLER_FAILED
  const message =
    typeof payload.message === 'string' ? payload.message : 'The remote handler failed.'
  return new RemoteHandlerError(`The remote handler failed: ${message}`, code, payload.data)
}

function isJson(value: unknown): boolean {
  try {
    JSON.stringify(value)
    return true
  } catch {
    return false
  }
}
