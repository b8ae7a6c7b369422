import { type ErrorCode, ErrorCodes, type ExoRelayError } from '@exorelay/core'

/**
 * The HTTP status of every error code that an ExoCom HTTP peer answers with: the relay's
 * listener, the bus, and the results of a batch. One table, so that the listener, the bus and
 * the sender reading their answers agree. Codes absent here are never answered over HTTP
 * (argument errors, client-side timeouts); {@link statusOf} gives them 500.
 *
 * Some answers have a status of their own beside their code, set by the HTTP layer rather than
 * by the message: 408, 413, 415 and 431 all carry `INVALID_MESSAGE`.
 */
export const STATUS_OF_CODE: Readonly<Partial<Record<ErrorCode, number>>> = Object.freeze({
  // The message itself (original protocol: 400 `missing message id`, 404 `unknown message`).
  [ErrorCodes.MISSING_ID]: 400,
  [ErrorCodes.INVALID_MESSAGE]: 400,
  [ErrorCodes.UNKNOWN_MESSAGE]: 404,
  // The receiving relay.
  [ErrorCodes.HANDLER_FAILED]: 500,
  [ErrorCodes.OVERLOADED]: 503,
  [ErrorCodes.CLOSED]: 503,
  [ErrorCodes.NOT_LISTENING]: 503,
  [ErrorCodes.UNAUTHORIZED]: 401,
  [ErrorCodes.FORBIDDEN]: 403,
  // The bus.
  [ErrorCodes.NO_RECEIVER]: 404,
  [ErrorCodes.BUS_FAILED]: 500,
  [ErrorCodes.BUS_NO_ROUTE]: 404,
  [ErrorCodes.BUS_CLOSING]: 503,
  [ErrorCodes.BUS_INVALID_REGISTRATION]: 400,
  [ErrorCodes.BUS_UNKNOWN_SERVICE]: 404,
  [ErrorCodes.BUS_TOO_MANY_EVENT_CLIENTS]: 503,
  [ErrorCodes.BUS_RECEIVER_BUSY]: 503,
})

/** The status an answer with `code` carries: from {@link STATUS_OF_CODE}, else 500. */
export function statusOf(code: ErrorCode): number {
  return STATUS_OF_CODE[code] ?? 500
}

/**
 * A non-2xx answer as every ExoCom HTTP peer writes it: the status, the code for the
 * `exorelay-error-code` header, and the plain-text body.
 */
export interface ErrorAnswer {
  readonly status: number
  readonly code: ErrorCode
  readonly text: string
}

/** The answer for an error: its code's status, its code, and its message as the text. */
export function answerOf(error: ExoRelayError): ErrorAnswer {
  return { status: statusOf(error.code), code: error.code, text: error.message }
}
