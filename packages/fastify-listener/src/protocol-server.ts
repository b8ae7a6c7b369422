import type { Server } from 'node:http'
import type { DropArgument } from 'node:net'
import { ErrorCodes, ListenError, type Logger } from '@exorelay/core'
import { clientErrorHandler, serverTimeouts } from '@exorelay/http-protocol'
import type { FastifyHttpOptions } from 'fastify'
import type { AnswerTexts } from './answer.js'
import { frameworkErrors } from './ingress.js'

/**
 * Connections a relay's standalone listener keeps open at once unless told otherwise. The bus
 * opens at most 64 per receiver, health checks one each: 1,024 leaves room for many buses and
 * probes, while a flood of idle or half-open connections is cut off long before it takes the
 * process's file descriptors (the sender's connections to the bus need some too).
 */
export const DEFAULT_MAX_CONNECTIONS = 1_024

/** At most one warning per this many milliseconds while connections are being refused. */
const DROP_WARNING_INTERVAL = 10_000

/**
 * Caps the connections `server` keeps open at once: Node closes each connection beyond
 * `maxConnections` as soon as it is accepted, before any byte is read, so a flood of
 * connections cannot take the process's file descriptors. The first refused connection is
 * logged at `warn`, then at most one line (with the count) every 10 s, so that a flood does
 * not flood the log as well.
 */
export function capConnections(server: Server, maxConnections: number, logger: Logger): void {
  server.maxConnections = maxConnections
  let dropped = 0
  let warned = Number.NEGATIVE_INFINITY
  server.on('drop', (data?: DropArgument) => {
    dropped++
    const now = performance.now()
    if (now - warned < DROP_WARNING_INTERVAL) return
    warned = now
    logger.warn(
      { maxConnections, dropped, remoteAddress: data?.remoteAddress },
      'connection closed at once: maxConnections are open',
    )
    dropped = 0
  })
}

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
