import type { Server } from 'node:http'
import { ErrorCodes, ListenError, type Logger } from '@exorelay/core'
import { clientErrorHandler, serverTimeouts } from '@exorelay/http-protocol'
import type { FastifyHttpOptions } from 'fastify'
import type { AnswerTexts } from './answer.js'
import { frameworkErrors } from './ingress.js'

/** What {@link protocolServerOptions} builds a server's options from. */
export interface ProtocolServerSettings {
  /** Milliseconds a client may take to send one whole request; `0` disables the cut. */
  readonly requestTimeout: number
  readonly bodyLimit: number
  readonly texts: AnswerTexts
  readonly logger: Logger
}

/**
 * The Fastify options of a server whose every route is the protocol's (a relay's standalone
 * listener, the bus): everything it refuses is answered in the protocol's form, in the style
 * of `texts`, and a client that stalls halfway cannot hold a connection.
 */
export function protocolServerOptions(
  settings: ProtocolServerSettings,
): FastifyHttpOptions<Server> {
  const { requestTimeout, bodyLimit, texts, logger } = settings
  return {
    // Requests are logged through our Logger, one line per outcome, not Fastify's two.
    logger: false,
    requestTimeout,
    http: serverTimeouts(requestTimeout),
    // What Node refuses before any route runs: plain text with a code, like the routes' answers.
    clientErrorHandler: clientErrorHandler({
      requestTimeout,
      logger,
      sentence: texts.style === 'sentence',
    }),
    // Requests that arrive while closing reach the routes, which answer 503 in the protocol's
    // form with a code; Fastify's own 503 would be JSON without one.
    return503OnClosing: false,
    // The router rejects a URL with broken percent-encoding before any route runs.
    frameworkErrors: frameworkErrors({ bodyLimit, texts, logger }),
  }
}

/**
 * The `ListenError` for a server that could not bind: `ADDRESS_IN_USE` with `inUse` when the
 * port is taken, else `LISTEN_FAILED` with `failed(reason)`; the system error is the `cause`.
 */
export function listenError(
  cause: unknown,
  inUse: string,
  failed: (reason: string) => string,
): ListenError {
  if ((cause as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE') {
    return new ListenError(ErrorCodes.ADDRESS_IN_USE, inUse, { cause })
  }
  const reason = cause instanceof Error ? cause.message : String(cause)
  return new ListenError(ErrorCodes.LISTEN_FAILED, failed(reason), { cause })
}
