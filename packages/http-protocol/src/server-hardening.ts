import { type ServerOptions, STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { Logger } from '@exorelay/core'
import { ErrorCodes, InvalidArgumentError } from '@exorelay/core'
import { describeValue } from '@exorelay/core/internal'
import { ERROR_CODE_HEADER } from './protocol.js'

// What the HTTP servers of ExoRelay (the bus and a relay's standalone listener) do about
// clients that are slow or do not speak HTTP. Node-only; no Fastify here, so the servers pass
// these to Fastify themselves.

/** Milliseconds a client may take to send one whole request, unless told otherwise. */
export const DEFAULT_REQUEST_TIMEOUT = 10_000
// Node looks for expired requests on an interval (30 s unless told otherwise); a stalled
// request is cut off up to one interval after its timeout, so keep the interval short.
const MAX_TIMEOUT_CHECK_INTERVAL = 1_000
// Node's own limit for the headers, which holds even when the request timeout is disabled.
const NODE_HEADERS_TIMEOUT = 60_000

/**
 * Checks a `requestTimeout` option and returns it, or {@link DEFAULT_REQUEST_TIMEOUT} when it
 * is not given. `where` starts the error message, e.g. `'The requestTimeout option'`.
 */
export function checkRequestTimeout(value: unknown, where: string): number {
  const requestTimeout = value ?? DEFAULT_REQUEST_TIMEOUT
  if (
    typeof requestTimeout !== 'number' ||
    !Number.isInteger(requestTimeout) ||
    requestTimeout < 0
  ) {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      `${where} must be an integer of at least 0 (0 disables it), got ${describeValue(requestTimeout)}.`,
    )
  }
  return requestTimeout
}

/**
 * Node's server options that make `requestTimeout` hold on Node 20. Fastify sets the server's
 * request timeout only after creating it, which leaves two gaps. Node swaps a headers timeout
 * that is longer than the request timeout with it, so with the default 60 s headers timeout a
 * client that sent its headers and then stalls in the body is cut off only after 60 s. And
 * Node looks for expired requests every 30 s by default.
 */
export function serverTimeouts(requestTimeout: number): ServerOptions {
  // Disabled: keep Node's defaults, whose 60 s headers timeout still bounds the headers.
  if (requestTimeout === 0) return {}
  return {
    requestTimeout,
    headersTimeout: Math.min(requestTimeout, NODE_HEADERS_TIMEOUT),
    connectionsCheckingInterval: Math.min(requestTimeout, MAX_TIMEOUT_CHECK_INTERVAL),
  }
}

/** Options of {@link clientErrorHandler}. */
export interface ClientErrorHandlerOptions {
  /** The server's request timeout in milliseconds (`0`: disabled), quoted in the 408 text. */
  requestTimeout: number
  /** Where each refusal is logged, at `warn`. */
  logger: Logger
  /**
   * Write the answer as a sentence, capitalised with a full stop (the bus's style: `The
   * request is not valid HTTP.`). Default `false`: a lowercase phrase, as a relay's protocol
   * answers are (`the request is not valid HTTP`).
   */
  sentence?: boolean
}

/**
 * Returns a handler for what Node refuses before any route runs (a request not complete
 * within `requestTimeout`, headers over Node's size limit, bytes that are not HTTP): it
 * answers 408, 431 or 400 in the protocol's form (plain text, code `INVALID_MESSAGE` in the
 * error-code header), then closes the connection. It replaces Fastify's default, which
 * answers the same statuses as JSON without a code. Fits Fastify's `clientErrorHandler`
 * option and Node's `clientError` event.
 */
export function clientErrorHandler(
  options: ClientErrorHandlerOptions,
): (error: Error & { code?: string | undefined }, socket: Socket) => void {
  const { requestTimeout, logger, sentence = false } = options
  return (error, socket) => {
    // A reset or closed connection has nobody left to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) return
    let status = 400
    let text = 'the request is not valid HTTP'
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      status = 408
      text =
        requestTimeout > 0
          ? `the request was not complete within ${requestTimeout} ms`
          : 'the request headers were not complete in time'
    } else if (error.code === 'HPE_HEADER_OVERFLOW') {
      status = 431
      text = 'the request headers are larger than the limit'
    }
    if (sentence) text = `${text[0]!.toUpperCase()}${text.slice(1)}.`
    const code = ErrorCodes.INVALID_MESSAGE
    logger.warn({ status, code, reason: error.code }, `request refused: ${text}`)
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
          'connection: close\r\n' +
          'content-type: text/plain; charset=utf-8\r\n' +
          `content-length: ${Buffer.byteLength(text)}\r\n` +
          `${ERROR_CODE_HEADER}: ${code}\r\n\r\n${text}`,
      )
    }
    socket.destroy()
  }
}

/**
 * Runs `close` (a server's graceful close, e.g. Fastify's `app.close()`) and, when it has not
 * finished `requestTimeout` ms later, cuts every connection of `server`. Node stops enforcing
 * the request timeout once its server closes, so a client stalling halfway through a request
 * would otherwise hold the close for ever; any request still open one timeout later has
 * overrun it. `0` (disabled) never cuts.
 */
export async function closeCuttingStalled(
  server: { closeAllConnections(): void },
  requestTimeout: number,
  close: () => PromiseLike<unknown>,
): Promise<void> {
  const cutOff =
    requestTimeout > 0 ? setTimeout(() => server.closeAllConnections(), requestTimeout) : undefined
  try {
    await close()
  } finally {
    clearTimeout(cutOff)
  }
}
