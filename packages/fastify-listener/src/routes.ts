import {
  type Envelope,
  ErrorCodes,
  InvalidArgumentError,
  type Logger,
  ProtocolError,
  parseEnvelope,
  type Receipt,
  type Receiver,
  silentLogger,
} from '@exorelay/core'
import { describeValue } from '@exorelay/core/internal'
import {
  BATCH_ACCEPTED,
  type BatchResult,
  batchFailure,
  bearerMatcher,
  checkToken,
  type ErrorAnswer,
  parseBatch,
  RUN_BATCH_PATH,
  statusOf,
} from '@exorelay/http-protocol'
import type {
  FastifyError,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  onRequestHookHandler,
  RouteHandlerMethod,
} from 'fastify'
import { answerForFastifyError, sendErrorAnswer } from './answer.js'

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
  /** Largest accepted body in bytes; larger bodies are answered 413. Default 1 MiB (1_048_576). */
  bodyLimit?: number
  /** Where request outcomes are logged (pino-compatible). Default: `silentLogger`. */
  logger?: Logger
  /**
   * The shared secret of the ExoCom installation. When set, `POST /run/*` and `POST /run`
   * without `authorization: Bearer <token>` (or with another token) are answered 401
   * `missing or invalid token` before their body is read. `GET /status` stays open. The
   * token never appears in a log line. Default: none (no check).
   */
  token?: string | undefined
  /**
   * Readiness details for `GET /status`: while the relay receives, the status answers 200
   * with this object as JSON (without it, an empty 200). Called on every probe, so it must be
   * cheap and do no I/O. Default: none.
   */
  status?: (() => Record<string, unknown>) | undefined
  /**
   * Accept batches (decision 0011): `POST /run` whose body is a JSON array of 1 to 256
   * messages, each with its `name`, answered `200` with a JSON array of one result per
   * message, in order. `false` answers such a body like any other `POST /run` (404
   * `unknown message: ''`). Default: `true`.
   */
  batches?: boolean | undefined
}

type RunRequest = FastifyRequest<{ Params: { '*'?: string } }>

const NOT_LISTENING: ErrorAnswer = {
  status: 503,
  code: ErrorCodes.NOT_LISTENING,
  text: 'not listening',
}
const NOT_LISTENING_RESULT = batchFailure(503, ErrorCodes.NOT_LISTENING, 'not listening')

// Route config marking the routes the token check lets through. Not a literal at the call
// site, so Fastify's config type accepts the extra key.
const OPEN_ROUTE = { exoRelayOpen: true }

const UNAUTHORIZED: ErrorAnswer = {
  status: 401,
  code: ErrorCodes.UNAUTHORIZED,
  text: 'missing or invalid token',
}

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
  const { receiver } = options
  if (typeof receiver !== 'function') {
    done(invalidOption('receiver', 'a function', receiver))
    return
  }
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT
  if (!Number.isInteger(bodyLimit) || bodyLimit <= 0) {
    done(invalidOption('bodyLimit', 'a positive integer', bodyLimit))
    return
  }
  let token: string | undefined
  try {
    token = checkToken(options.token, 'The token option of exoRelayRoutes')
  } catch (error) {
    done(error as Error)
    return
  }
  const status = options.status
  if (status !== undefined && typeof status !== 'function') {
    done(invalidOption('status', 'a function', status))
    return
  }
  const batches = options.batches
  if (batches !== undefined && typeof batches !== 'boolean') {
    done(invalidOption('batches', 'a boolean', batches))
    return
  }
  const log = options.logger ?? silentLogger

  // Whatever parsers the surrounding app has (form bodies, text, a catch-all), the bus speaks
  // JSON only. Fastify's own JSON parser, with prototype-poisoning protection forced on even
  // if the app relaxed it.
  instance.removeAllContentTypeParsers()
  instance.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit },
    instance.getDefaultJsonParser('error', 'error'),
  )

  instance.setErrorHandler((error: FastifyError, request, reply) => {
    const answer = answerForFastifyError(error, request, bodyLimit)
    if (answer === undefined) {
      // Not a problem with the message: the app's error handler decides (reply.send passes
      // an error on to the parent context's handler).
      reply.send(error)
      return
    }
    const params = request.params as { '*'?: string } | undefined
    log.warn(
      { messageName: params?.['*'], status: answer.status, code: answer.code },
      `message rejected: ${answer.text}`,
    )
    sendErrorAnswer(reply, answer)
  })

  const runNamed: RouteHandlerMethod = (request, reply) => {
    // A name is decoded once by the router (`a%2Fb` is `a/b`).
    runSingle((request as RunRequest).params['*'] ?? '', request.body, reply)
  }

  const runUnnamed: RouteHandlerMethod = (request, reply) => {
    const body = request.body
    if (batches !== false && Array.isArray(body)) {
      runBatch(body, reply)
      return
    }
    // No name: the single route's answer, 404 `unknown message: ''`, as the original relay gave.
    runSingle('', body, reply)
  }

  function runSingle(name: string, body: unknown, reply: FastifyReply): void {
    let envelope: Envelope
    try {
      envelope = parseEnvelope(name, body)
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err
      sendResult(reply, rejected(name, err))
      return
    }
    const receive = receiver()
    sendResult(reply, receive === undefined ? notListening(envelope) : deliver(receive, envelope))
  }

  /** The result for a message that arrived while the relay is not receiving. */
  function notListening(envelope: Envelope): BatchResult {
    log.debug(
      { ...fieldsOf(envelope), status: NOT_LISTENING.status },
      'message refused: not listening',
    )
    return NOT_LISTENING_RESULT
  }

  function sendResult(reply: FastifyReply, result: BatchResult): void {
    if (result === BATCH_ACCEPTED) {
      // An empty body, as the original relay and ExoCom expect: not "OK", not JSON.
      reply.code(200).send()
      return
    }
    // Every other result comes from batchFailure, with a code and a text.
    sendErrorAnswer(reply, { status: result.status, code: result.code!, text: result.error! })
  }

  function runBatch(body: unknown[], reply: FastifyReply): void {
    let entries: Array<Envelope | ProtocolError>
    try {
      entries = parseBatch(body)
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err
      log.warn({ status: 400, code: err.code }, `batch rejected: ${err.message}`)
      sendErrorAnswer(reply, { status: 400, code: err.code, text: err.message })
      return
    }
    // Each message gets what the single route answers it, in the same order of checks: a
    // message it would refuse is refused, the others are not taken while not listening.
    const receive = receiver()
    const results = new Array<BatchResult>(entries.length)
    for (let index = 0; index < entries.length; index++) {
      const entry = entries[index]!
      if (entry instanceof ProtocolError) results[index] = rejected(nameOf(body[index]), entry)
      else if (receive === undefined) results[index] = notListening(entry)
      else results[index] = deliver(receive, entry)
    }
    // One result per message, in order; a message's failure is in its result, not the status.
    reply.code(200).send(results)
  }

  /** The result for a message `parseEnvelope` refused, logged like every refusal. */
  function rejected(name: string | undefined, err: ProtocolError): BatchResult {
    const status = statusOf(err.code)
    log.warn({ messageName: name, status, code: err.code }, `message rejected: ${err.message}`)
    return batchFailure(status, err.code, err.message)
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
          { ...fieldsOf(envelope), status: 404, code: receipt.error.code },
          'message unknown',
        )
        return batchFailure(404, receipt.error.code, `unknown message: '${envelope.name}'`)
      case 'failed':
        log.debug(
          { ...fieldsOf(envelope), status: 500, code: receipt.error.code },
          'message failed',
        )
        // The message only, never the stack: the other side is another service.
        return batchFailure(500, receipt.error.code, receipt.error.message)
      case 'unavailable':
        log.debug(
          { ...fieldsOf(envelope), status: 503, code: receipt.error.code },
          'message refused',
        )
        return batchFailure(503, receipt.error.code, receipt.error.message)
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
    log.error({ ...fields, status: 500, err }, 'receiver threw')
    return batchFailure(
      500,
      ErrorCodes.HANDLER_FAILED,
      `the relay failed while receiving '${fields.messageName}'`,
    )
  }

  const answerStatus: RouteHandlerMethod = (_request, reply) => {
    if (receiver() === undefined) {
      sendErrorAnswer(reply, NOT_LISTENING)
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
      log.error({ err, status: 500 }, 'the status option threw')
      sendErrorAnswer(reply, {
        status: 500,
        code: ErrorCodes.HANDLER_FAILED,
        text: 'the relay failed to report its status',
      })
      return
    }
    reply.code(200).send(details)
  }

  if (token !== undefined) {
    const matches = bearerMatcher(token)
    // onRequest runs before the body is read: a client without the secret cannot make the
    // relay parse anything. Encapsulated, so it guards these routes and none of the app's.
    const checkAuthorization: onRequestHookHandler = (request, reply, done) => {
      // Health checks carry no secrets, and the status reveals nothing.
      const config = request.routeOptions.config as { exoRelayOpen?: boolean } | undefined
      if (config?.exoRelayOpen === true || matches(request.headers.authorization)) {
        done()
        return
      }
      const params = request.params as { '*'?: string } | undefined
      log.warn(
        { messageName: params?.['*'], status: UNAUTHORIZED.status, code: UNAUTHORIZED.code },
        `request refused: ${UNAUTHORIZED.text}`,
      )
      reply.header('www-authenticate', 'Bearer')
      sendErrorAnswer(reply, UNAUTHORIZED)
    }
    instance.addHook('onRequest', checkAuthorization)
  }

  // A wildcard rather than `/run/:name`: Fastify answers 404 for params longer than
  // `maxParamLength` (100 by default), and names may be up to 512 characters.
  instance.post('/run/*', { bodyLimit }, runNamed)
  instance.post(RUN_BATCH_PATH, { bodyLimit }, runUnnamed)

  instance.get('/status', { config: OPEN_ROUTE }, answerStatus)

  done()
}

/** The name a batch entry gave, for the log line of its refusal. */
function nameOf(entry: unknown): string | undefined {
  const name = (entry as { name?: unknown } | null)?.name
  return typeof name === 'string' ? name : undefined
}

/** The error of an option of the plugin that has the wrong type or value. */
function invalidOption(name: string, expected: string, value: unknown): InvalidArgumentError {
  return new InvalidArgumentError(
    ErrorCodes.INVALID_OPTION,
    `The ${name} option of exoRelayRoutes must be ${expected}, got ${describeValue(value)}.`,
  )
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
