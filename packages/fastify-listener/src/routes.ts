import {
  type Envelope,
  ErrorCodes,
  type Logger,
  type Receipt,
  type Receiver,
  silentLogger,
} from '@exorelay/core'
import { checkBoolean, checkFunction, checkInteger, describeValue } from '@exorelay/core/internal'
import {
  BATCH_ACCEPTED,
  type BatchResult,
  batchFailure,
  checkToken,
  RUN_BATCH_PATH,
  statusOf,
} from '@exorelay/http-protocol'
import type {
  FastifyInstance,
  FastifyPluginCallback,
  FastifyRequest,
  RouteHandlerMethod,
} from 'fastify'
import { PHRASES, sendErrorAnswer } from './answer.js'
import {
  addIngressRoutes,
  ingressErrorHandler,
  OPEN_ROUTE,
  sendResult,
  type TokenChecked,
  tokenCheck,
} from './ingress.js'

/** Largest message body accepted by default: 1 MiB. Messages are commands and events, not files. */
export const DEFAULT_BODY_LIMIT = 1_048_576

/** Options of {@link exoRelayRoutes}. */
export interface ListenerRoutesOptions {
  /**
   * Returns the relay's receiver, or `undefined` while the relay is not receiving (the routes
   * then answer 503 `not listening`). A function, so that the routes can be mounted before
   * the relay goes online.
   */
  receiver: () => Receiver | undefined
  /**
   * Largest accepted body in bytes; larger bodies are answered 413.
   * @default `1_048_576` (1 MiB)
   */
  bodyLimit?: number
  /**
   * Where request outcomes are logged (pino-compatible).
   * @default `silentLogger`
   */
  logger?: Logger
  /**
   * The shared secret of the ExoCom installation. When set, `POST /run/*` and `POST /run`
   * without `authorization: Bearer <token>` (or with another token) are answered 401
   * `missing or invalid token` before their body is read. `GET /status` stays open. The
   * token never appears in a log line.
   * @default none (no check)
   */
  token?: string | undefined
  /**
   * With `token`: told whether each request to `POST /run/*` and `POST /run` carried it
   * (`accepted`), before the request goes on or is answered 401; not called for
   * `GET /status`. For a relay to notice that the bus delivers without its token. Runs on
   * every request: keep it cheap, and it must not throw.
   * @default none
   */
  onTokenCheck?: ((accepted: boolean, request: FastifyRequest) => void) | undefined
  /**
   * Readiness details for `GET /status`: while the relay receives, the status answers 200
   * with this object as JSON (without it, an empty 200). Called on every probe, so it must be
   * cheap and do no I/O.
   * @default none (an empty 200)
   */
  status?: (() => Record<string, unknown>) | undefined
  /**
   * Accept batches (decision 0011): `POST /run` whose body is a JSON array of 1 to 256
   * messages, each with its `name`, answered `200` with a JSON array of one result per
   * message, in order. `false` answers such a body like any other `POST /run` (404
   * `unknown message: ''`).
   * @default `true`
   */
  batches?: boolean | undefined
}

/** The listener's options once checked: what the routes are built from. */
export interface CheckedListenerOptions {
  readonly receiver: () => Receiver | undefined
  readonly bodyLimit: number
  readonly logger: Logger
  readonly token: string | undefined
  readonly onTokenCheck: TokenChecked | undefined
  readonly status: (() => Record<string, unknown>) | undefined
  readonly batches: boolean
}

/**
 * Checks the options of the routes, for the plugin and the standalone listener alike; `owner`
 * names the one they were given to in the error (`The bodyLimit option of exoRelayRoutes …`).
 */
export function checkListenerOptions(
  options: ListenerRoutesOptions,
  owner: string,
): CheckedListenerOptions {
  const { status, onTokenCheck } = options
  return {
    receiver: checkFunction(options.receiver, `receiver of ${owner}`),
    bodyLimit: checkInteger(options.bodyLimit, `bodyLimit of ${owner}`, 1, DEFAULT_BODY_LIMIT),
    logger: options.logger ?? silentLogger,
    token: checkToken(options.token, `The token option of ${owner}`),
    onTokenCheck:
      onTokenCheck === undefined
        ? undefined
        : checkFunction(onTokenCheck, `onTokenCheck of ${owner}`),
    status: status === undefined ? undefined : checkFunction(status, `status of ${owner}`),
    batches: checkBoolean(options.batches, `batches of ${owner}`, true),
  }
}

const NOT_LISTENING_STATUS = statusOf(ErrorCodes.NOT_LISTENING)
const NOT_LISTENING_RESULT = batchFailure(
  NOT_LISTENING_STATUS,
  ErrorCodes.NOT_LISTENING,
  'not listening',
)
const UNKNOWN_STATUS = statusOf(ErrorCodes.UNKNOWN_MESSAGE)
const FAILED_STATUS = statusOf(ErrorCodes.HANDLER_FAILED)

/**
 * A Fastify plugin serving the receiving side of the ExoCom HTTP protocol: `POST /run/<name>`,
 * `POST /run` with a batch (a JSON array of messages, each with its `name`; answered `200` with
 * one `{status, code?, error?}` per message, in order; any other body is answered 404 as the
 * original did), and `GET /status`. Register it in any Fastify app.
 *
 * It is encapsulated on purpose (not wrapped with fastify-plugin): its JSON-only body parser
 * and its error handler apply to its own routes, never to the rest of your app. Errors it
 * does not own (say, from your app's auth hook) go on to your app's error handler.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { exoRelayRoutes } from '@exorelay/fastify-listener'
 *
 * const app = Fastify()
 * app.get('/api/health', async () => ({ ok: true }))
 * app.register(exoRelayRoutes, { receiver: () => relayReceiver })
 * await app.listen({ port: 4001 })
 * ```
 */
export const exoRelayRoutes: FastifyPluginCallback<ListenerRoutesOptions> = (
  instance,
  options,
  done,
) => {
  let checked: CheckedListenerOptions
  try {
    checked = checkListenerOptions(options, 'exoRelayRoutes')
  } catch (error) {
    done(error as Error)
    return
  }
  mountRoutes(instance, checked)
  done()
}

/** Adds the routes, with options already checked, to an encapsulated context. */
export function mountRoutes(instance: FastifyInstance, options: CheckedListenerOptions): void {
  const { receiver, bodyLimit, token, status } = options
  const log = options.logger

  // Whatever parsers the surrounding app has (form bodies, text, a catch-all), the bus speaks
  // JSON only. Fastify's own JSON parser, with prototype-poisoning protection forced on even
  // if the app relaxed it.
  instance.removeAllContentTypeParsers()
  instance.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit },
    instance.getDefaultJsonParser('error', 'error'),
  )

  instance.setErrorHandler(
    ingressErrorHandler({
      bodyLimit,
      texts: PHRASES,
      logger: log,
      // Not a problem with the message: the app's error handler decides (reply.send passes
      // an error on to the parent context's handler).
      otherwise: (error, _request, reply) => reply.send(error),
    }),
  )

  if (token !== undefined) {
    // Encapsulated, so it guards these routes and none of the app's.
    instance.addHook('onRequest', tokenCheck(token, log, options.onTokenCheck))
  }

  addIngressRoutes(instance, {
    prefix: RUN_BATCH_PATH,
    bodyLimit,
    batches: options.batches,
    unbatched: 'single',
    texts: PHRASES,
    logger: log,
    handle: (envelope) => {
      const receive = receiver()
      return receive === undefined ? notListening(envelope) : deliver(receive, envelope)
    },
  })

  /** The result for a message that arrived while the relay is not receiving. */
  function notListening(envelope: Envelope): BatchResult {
    log.debug(
      { ...fieldsOf(envelope), status: NOT_LISTENING_STATUS },
      'message refused: not listening',
    )
    return NOT_LISTENING_RESULT
  }

  /** Hands one message to the receiver; the result is what the single route answers for it. */
  function deliver(receive: Receiver, envelope: Envelope): BatchResult {
    let receipt: Receipt
    try {
      receipt = receive(envelope)
    } catch (err) {
      // A receiver never throws by contract; if it does, that is a bug, and one bad message
      // must not take the server down.
      return receiverFailed(fieldsOf(envelope), err)
    }
    switch (receipt.status) {
      case 'accepted':
        // The hot path: no log object is built when debug is off (pino can tell), and the
        // result is the one shared object.
        if (log.isLevelEnabled?.('debug') !== false) {
          log.debug({ ...fieldsOf(envelope), status: 200 }, 'message accepted')
        }
        return BATCH_ACCEPTED
      case 'unknown':
        log.warn(
          { ...fieldsOf(envelope), status: UNKNOWN_STATUS, code: receipt.error.code },
          'message unknown',
        )
        return batchFailure(
          UNKNOWN_STATUS,
          receipt.error.code,
          `unknown message: '${envelope.name}'`,
        )
      case 'failed':
        log.debug(
          { ...fieldsOf(envelope), status: FAILED_STATUS, code: receipt.error.code },
          'message failed',
        )
        // The message only, never the stack: the other side is another service.
        return batchFailure(FAILED_STATUS, receipt.error.code, receipt.error.message)
      case 'unavailable': {
        // Closing, overloaded: the code says which, and its status goes with it.
        const unavailable = statusOf(receipt.error.code)
        log.debug(
          { ...fieldsOf(envelope), status: unavailable, code: receipt.error.code },
          'message refused',
        )
        return batchFailure(unavailable, receipt.error.code, receipt.error.message)
      }
      default:
        return receiverFailed(
          fieldsOf(envelope),
          new TypeError(`The receiver returned an unknown receipt ${describeValue(receipt)}.`),
        )
    }
  }

  function receiverFailed(
    fields: { messageName: string; messageId: string },
    err: unknown,
  ): BatchResult {
    log.error({ ...fields, status: FAILED_STATUS, err }, 'receiver threw')
    return batchFailure(
      FAILED_STATUS,
      ErrorCodes.HANDLER_FAILED,
      `the relay failed while receiving '${fields.messageName}'`,
    )
  }

  const answerStatus: RouteHandlerMethod = (_request, reply) => {
    if (receiver() === undefined) {
      sendResult(reply, NOT_LISTENING_RESULT)
      return
    }
    if (status === undefined) {
      reply.code(200).send()
      return
    }
    let details: Record<string, unknown>
    try {
      details = status()
    } catch (err) {
      log.error({ err, status: FAILED_STATUS }, 'the status option threw')
      sendErrorAnswer(reply, {
        status: FAILED_STATUS,
        code: ErrorCodes.HANDLER_FAILED,
        text: 'the relay failed to report its status',
      })
      return
    }
    reply.code(200).send(details)
  }

  instance.get('/status', { config: OPEN_ROUTE }, answerStatus)
}

/** The log fields of one message. Built only when a line is logged. */
function fieldsOf(envelope: Envelope): { messageName: string; messageId: string } {
  return { messageName: envelope.name, messageId: envelope.id }
}

// Names the plugin in Fastify's plugin tree and avvio's timeout errors. Set by hand because
// fastify-plugin, which usually sets it, would also break the encapsulation.
Object.defineProperty(exoRelayRoutes, Symbol.for('fastify.display-name'), {
  value: 'exorelay-routes',
})
