import { ErrorCodes, TransportError } from '@exorelay/core'
import {
  FORBIDDEN_TEXT_LENGTH,
  noReceiverError as noReceiver,
  textStart,
} from '@exorelay/core/internal'

/**
 * Bytes of an error answer read at most: a misdirected port may answer a huge HTML page.
 * Past it the request is aborted, which closes that connection instead of reading on.
 */
export const BODY_READ_LIMIT = 4096

/**
 * The text of an error answer as the relay quotes it. The bus's refusal of a credential
 * (`exorelay-error-code: EXORELAY_ERR_AUTH_FORBIDDEN`) or of a message to a busy receiver
 * (`EXORELAY_ERR_BUS_RECEIVER_BUSY`) is its own sentence, ending with the fix: quoted whole,
 * up to `FORBIDDEN_TEXT_LENGTH`. Anything else is a peer's text, cut short.
 */
export function answerText(body: string, errorCode: string | undefined): string {
  return errorCode === ErrorCodes.FORBIDDEN || errorCode === ErrorCodes.BUS_RECEIVER_BUSY
    ? textStart(body, FORBIDDEN_TEXT_LENGTH)
    : textStart(body)
}

/** `answered 500: boom`, or `answered 500` for an empty body. */
function answered(status: number, bodyStart: string): string {
  return bodyStart === '' ? `answered ${status}` : `answered ${status}: ${bodyStart}`
}

/**
 * ExoCom knows no service that receives the message. The bundled bus's own sentence says only
 * that, so it is not quoted again; another bus's text is.
 */
export function noReceiverError(
  name: string,
  status: number,
  bodyStart: string,
  origin: string,
): TransportError {
  const plain =
    bodyStart === '' || bodyStart.startsWith(`No service receives the message '${name}'`)
  return noReceiver(name, `ExoCom lists its routes at GET ${origin}/config.json`, {
    answer: plain ? undefined : `ExoCom ${answered(status, bodyStart)}`,
    status,
  })
}

/** ExoCom answered, but not with a 2xx. `subject` names what was refused: `the message 'x'`. */
export function refusedError(subject: string, status: number, bodyStart: string): TransportError {
  return new TransportError(
    ErrorCodes.BUS_REFUSED,
    `ExoCom refused ${subject} (${answered(status, bodyStart)}).`,
    { status },
  )
}

/**
 * ExoCom in identity mode knows this relay's token but does not allow `subject` (403): the
 * bus's sentence says why and what to do.
 */
export function forbiddenError(subject: string, status: number, bodyStart: string): TransportError {
  return new TransportError(
    ErrorCodes.FORBIDDEN,
    `ExoCom refused ${subject} for this relay's credential (${answered(status, bodyStart)}).`,
    { status },
  )
}

/**
 * ExoCom did not accept `subject` because one of its receivers has as many messages under way
 * as the bus holds (503): the bus's sentence names the receiver and says what to do, so it is
 * the message. Nothing was delivered, so the caller may send it again; the relay does not, as
 * it cannot know whether the caller still wants it.
 */
function receiverBusyError(subject: string, status: number, bodyStart: string): TransportError {
  const message =
    bodyStart === ''
      ? `ExoCom refused ${subject} (${answered(status, bodyStart)}): one of its receivers has as many messages under way as ExoCom holds. Send it again later.`
      : bodyStart
  return new TransportError(ErrorCodes.BUS_RECEIVER_BUSY, message, { status })
}

/**
 * The error for a non-2xx answer to `subject`: forbidden or receiver busy when the bus says
 * so by its error code, refused otherwise. A 403 without the code is not the bus's refusal of
 * a credential (a reverse proxy's, say): it stays `BUS_REFUSED`, in neutral words.
 */
export function refusal(
  subject: string,
  status: number,
  errorCode: string | undefined,
  bodyStart: string,
): TransportError {
  if (errorCode === ErrorCodes.FORBIDDEN) return forbiddenError(subject, status, bodyStart)
  if (errorCode === ErrorCodes.BUS_RECEIVER_BUSY) {
    return receiverBusyError(subject, status, bodyStart)
  }
  return refusedError(subject, status, bodyStart)
}

/**
 * ExoCom answered 401: the token this relay sends (or its lack of one) is not ExoCom's. One
 * sentence with the fix, for the relay's `error` event and its log line.
 */
export function unauthorizedError(origin: string, hasToken: boolean): TransportError {
  const problem = hasToken
    ? `refused this relay's token (401)`
    : 'wants a token and this relay sends none (401)'
  // Either mode: the relay cannot tell a bus with a shared token from one with credentials.
  return new TransportError(
    ErrorCodes.UNAUTHORIZED,
    `ExoCom at ${origin} ${problem}. ${TOKEN_FIX}`,
    { status: 401 },
  )
}

/**
 * What to do about a token the other side does not take, in either mode of the bus: the
 * relay's sentences end with it.
 */
const TOKEN_FIX =
  "Give the relay the token ExoCom expects: the installation's shared EXOCOM_TOKEN, or, when ExoCom has per-service credentials (--credentials), this service's token from its credentials file (EXOCOM_TOKEN, the token option)."

/** What a `TimeoutError` says when ExoCom did not answer `subject` in time. */
export function timeoutMessage(subject: string, timeout: number): string {
  return `ExoCom did not answer ${subject} within ${timeout} ms.`
}

/**
 * ExoCom could not be reached, or the connection broke before it answered. `attempts` is
 * given for connections that were refused (and retried): the message then says how many. It
 * ends with the two likely fixes: the bus is not running, or the relay looks in the wrong place.
 */
export function unreachableError(
  origin: string,
  cause: unknown,
  attempts?: number,
): TransportError {
  const tries = attempts === undefined ? '' : ` (${countAttempts(attempts)})`
  return new TransportError(
    ErrorCodes.BUS_UNREACHABLE,
    `ExoCom at ${origin} is unreachable: ${describeCause(cause)}${tries}. ${unreachableFix(origin)}`,
    { cause },
  )
}

/** Start the bus where the relay looks for it, or tell the relay where it runs. */
function unreachableFix(origin: string): string {
  const url = new URL(origin)
  const port = url.port === '' ? '80' : url.port
  return `Start the bus (npx exocom --port ${port}), or set EXOCOM_HOST and EXOCOM_PORT (the exocomHost and exocomPort options) to where it runs: they are '${url.hostname}' and ${port} now.`
}

/** `1 attempt`, `3 attempts`. */
export function countAttempts(attempts: number): string {
  return attempts === 1 ? '1 attempt' : `${attempts} attempts`
}

/** True for undici's headers and body timeouts (checked by code: a second undici copy has other classes). */
export function isUndiciTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT'
}

/**
 * A readable reason for a low-level failure. Node's happy-eyeballs connect (`localhost` tried
 * as ::1 and 127.0.0.1) fails with an `AggregateError` whose own message is empty.
 */
export function describeCause(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    const reasons = new Set(error.errors.map((inner: unknown) => describeCause(inner)))
    return [...reasons].join('; ')
  }
  if (error instanceof Error) {
    if (error.message !== '') return error.message
    const code = (error as { code?: unknown }).code
    return typeof code === 'string' ? code : error.name
  }
  return String(error)
}
