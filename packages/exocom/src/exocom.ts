import type { AddressInfo } from 'node:net'
import {
  checkPort,
  type Envelope,
  type ErrorCode,
  ErrorCodes,
  ExoRelayError,
  InvalidArgumentError,
  ListenError,
  type Logger,
  ProtocolError,
  parseEnvelope,
  silentLogger,
} from '@exorelay/core'
import { describeInvalidName, describeValue } from '@exorelay/core/internal'
import {
  BATCH_ACCEPTED,
  type BatchResult,
  batchFailure,
  bearerMatcher,
  checkRequestTimeout,
  checkToken,
  clientErrorHandler,
  closeCuttingStalled,
  DEFAULT_BATCH_AFTER,
  ERROR_CODE_HEADER,
  parseBatch,
  SEND_BATCH_PATH,
  type ServiceRegistration,
  serverTimeouts,
  statusOf,
} from '@exorelay/http-protocol'
import Fastify, {
  type FastifyError,
  type FastifyReply,
  type FastifyRequest,
  type onRequestHookHandler,
} from 'fastify'
import { pino } from 'pino'
import pretty from 'pino-pretty'
import { Deliverer, type RoutedMessage } from './delivery.js'
import {
  type ExoComConfig,
  RoutingTable,
  validateService,
  validateServices,
} from './routing-table.js'

/** The port the original ExoCom was usually started on. */
export const DEFAULT_EXOCOM_PORT = 3100
const DEFAULT_HOST = '127.0.0.1'
const DEFAULT_DELIVERY_TIMEOUT = 5000
const DEFAULT_BODY_LIMIT = 1024 * 1024
// Route config marking the routes the token check lets through. Not a literal at the call
// site, so Fastify's config type accepts the extra key.
const OPEN_ROUTE = { exoComOpen: true }
// The answer to a registration that tells the relay it may send batches (decision 0011).
const BATCHES_OFFERED = Object.freeze({ batches: true })

/** Options of {@link startExoCom}. Every one is optional. */
export interface ExoComOptions {
  /** The port to listen on; `0` picks a free one. Default `3100`. */
  port?: number
  /** The interface to listen on. Default `'127.0.0.1'`: a development bus is not exposed. */
  host?: string
  /** The initial routing table, as `POST /services` takes it. Default: empty. */
  services?: ServiceRegistration[]
  /**
   * A pino-compatible logger, or `false` for silence. Default: pino at `info`, pretty-printed
   * (pino-pretty) when stdout is a terminal, JSON lines otherwise.
   */
  logger?: Logger | false
  /** Milliseconds a receiver may take to connect and answer `POST /run`. Default `5000`. */
  deliveryTimeout?: number
  /** Largest request body accepted, in bytes; larger ones get 413. Default 1 MiB. */
  bodyLimit?: number
  /**
   * The shared secret of the installation. When set, every request but `GET /status` must
   * carry `authorization: Bearer <token>` (else 401 `missing or invalid token`, before the
   * body is read), and every delivery (`POST /run`) carries it. Visible ASCII, no spaces;
   * never logged. Default: none (an open bus).
   */
  token?: string | undefined
  /**
   * Milliseconds a client may take to send one whole request, headers and body. A client that
   * has not finished by then gets `408` (code `EXORELAY_ERR_PROTOCOL_INVALID_MESSAGE`) and its
   * connection is closed, so a client that stalls halfway (slowloris) cannot hold a
   * connection for ever. The bus checks about once a second, so the cut comes up to a second
   * late. `0` disables it (Node's 60 s limit for the headers still holds). Default `10_000`.
   */
  requestTimeout?: number
  /**
   * The batch extension (decision 0011): the bus answers registrations with
   * `{"batches":true}`, takes `POST /send` with a JSON array of messages, and sends a
   * receiver that registered with `batches: true` what waits for it as one `POST /run`. `false`
   * speaks the original protocol only. Default `true`.
   */
  batches?: boolean
  /**
   * Requests under way to a receiver that takes batches before further messages to it wait,
   * and leave together, as one batch, when one of those requests ends. Below it every message
   * goes out at once, alone. An integer of at least 1. Default `2`.
   */
  batchAfter?: number
}

/** A running ExoCom. */
export interface ExoCom {
  /** The bound port (the real one when `port: 0` was asked for). */
  readonly port: number
  /** Where services reach the bus, e.g. `http://127.0.0.1:3100`. */
  readonly url: string
  /** The current routing table in the `GET /config.json` shape. */
  config(): ExoComConfig
  /**
   * Replaces the routing table (same as `POST /services`). Throws an `InvalidArgumentError`
   * (code `INVALID_OPTION`) naming the bad entry; the table then stays as it was.
   */
  setServices(services: ServiceRegistration[]): void
  /**
   * Graceful: at once answers new `POST /send` with 503 (`EXORELAY_ERR_BUS_CLOSING`,
   * `ExoCom is shutting down`), sends at once what waits for a batch, waits for the
   * deliveries in flight (each bounded by `deliveryTimeout`), closes the delivery pools, then
   * frees the port; a connection whose request is still not complete `requestTimeout` later
   * is cut off. Idempotent.
   */
  close(): Promise<void>
}

/**
 * Starts an ExoCom: the bus that routes named messages between ExoRelay services over the
 * ExoCom HTTP protocol. Rejects with a `ListenError` (code `ADDRESS_IN_USE`) when the port is
 * taken, and with an `InvalidArgumentError` (code `INVALID_OPTION`) for a bad option.
 *
 * @example
 * ```ts
 * import { startExoCom } from '@exorelay/exocom'
 *
 * const exocom = await startExoCom({
 *   port: 3100,
 *   services: [
 *     { name: 'web', host: '127.0.0.1', port: 4000, receives: ['users.created'] },
 *     { name: 'users', host: '127.0.0.1', port: 4001, receives: ['users.create'] },
 *   ],
 * })
 * console.log(`ExoCom at ${exocom.url}`)
 * // later
 * await exocom.close()
 * ```
 */
export async function startExoCom(options: ExoComOptions = {}): Promise<ExoCom> {
  const port = options.port === undefined ? DEFAULT_EXOCOM_PORT : checkPort(options.port)
  const host = options.host ?? DEFAULT_HOST
  if (typeof host !== 'string' || host.length === 0) {
    throw invalidOption(`The host option must be a non-empty string, got ${describeValue(host)}.`)
  }
  const deliveryTimeout = positiveInteger(
    options.deliveryTimeout,
    DEFAULT_DELIVERY_TIMEOUT,
    'deliveryTimeout',
  )
  const bodyLimit = positiveInteger(options.bodyLimit, DEFAULT_BODY_LIMIT, 'bodyLimit')
  const requestTimeout = checkRequestTimeout(options.requestTimeout, 'The requestTimeout option')
  const token = checkToken(options.token, 'The token option')
  const batches = options.batches ?? true
  if (typeof batches !== 'boolean') {
    throw invalidOption(`The batches option must be a boolean, got ${describeValue(batches)}.`)
  }
  const batchAfter = positiveInteger(options.batchAfter, DEFAULT_BATCH_AFTER, 'batchAfter')
  const table = new RoutingTable(validateServices(options.services ?? []))
  const log = options.logger === false ? silentLogger : (options.logger ?? createDefaultLogger())
  const deliverer = new Deliverer({
    timeout: deliveryTimeout,
    logger: log,
    token,
    batches,
    batchAfter,
  })
  let closing: Promise<void> | undefined

  const replaceTable = (services: ServiceRegistration[]): void => {
    table.replace(services)
    deliverer.retain(table.services())
    deliverer.registered(services)
    log.info({ services: services.map((service) => service.name) }, 'routing table replaced')
  }

  const app = Fastify({
    logger: false,
    bodyLimit,
    requestTimeout,
    http: serverTimeouts(requestTimeout),
    // Answered as sentences with a code, like every other error of the bus.
    clientErrorHandler: clientErrorHandler({ requestTimeout, logger: log, sentence: true }),
    // While the port closes, requests on open connections still get the protocol's answers
    // (a 503 with a code for /send), not Fastify's JSON 503.
    return503OnClosing: false,
    // A URL whose name cannot be decoded gets the same plain-text answer as any other error.
    frameworkErrors: (error, request, reply) => {
      answer(
        reply,
        error.statusCode ?? 400,
        ErrorCodes.INVALID_MESSAGE,
        error.code === 'FST_ERR_BAD_URL'
          ? `The URL ${describeValue(request.url)} cannot be URL-decoded.`
          : `The request is invalid: ${error.message}`,
      )
    },
  })
  // Fastify parses text/plain by default; the protocol is JSON only, so that is a 415.
  app.removeContentTypeParser('text/plain')

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode
    if (status !== undefined && status >= 400 && status < 500) {
      answer(
        reply,
        status,
        ErrorCodes.INVALID_MESSAGE,
        describeClientError(error, request, bodyLimit),
      )
      return
    }
    log.error({ err: error, method: request.method, url: request.url }, 'request failed')
    answer(reply, 500, ErrorCodes.BUS_FAILED, 'ExoCom failed to handle the request; see its log.')
  })

  app.setNotFoundHandler((request, reply) => {
    answer(
      reply,
      404,
      ErrorCodes.BUS_NO_ROUTE,
      `ExoCom has no route for ${request.method} '${request.url}'.`,
    )
  })

  if (token !== undefined) {
    const matches = bearerMatcher(token)
    // onRequest runs before the body is read: a client without the secret cannot make the
    // bus parse anything, whatever route it asks for.
    const checkAuthorization: onRequestHookHandler = (request, reply, done) => {
      const config = request.routeOptions.config as { exoComOpen?: boolean } | undefined
      // Health checks carry no secrets, and the status reveals nothing.
      if (config?.exoComOpen === true || matches(request.headers.authorization)) {
        done()
        return
      }
      log.warn(
        { method: request.method, url: request.url, status: 401 },
        'request refused: missing or invalid token',
      )
      reply.header('www-authenticate', 'Bearer')
      answer(reply, 401, ErrorCodes.UNAUTHORIZED, 'missing or invalid token')
    }
    app.addHook('onRequest', checkAuthorization)
  }

  /**
   * Routes one message a sender posted, with every check of `POST /send/<name>` but the name's:
   * answers what that route answers for it. Shared by the single route and batches, so a
   * message is treated the same whichever way it came.
   */
  const route = (envelope: Envelope): BatchResult => {
    const { name, sender } = envelope
    if (sender === undefined || sender.length === 0) {
      return batchFailure(
        400,
        ErrorCodes.INVALID_MESSAGE,
        `The message ${describeValue(name)} has no sender: its body needs 'sender', the sending service's name.`,
      )
    }
    const { id, responseTo } = envelope
    // Serialised once for every receiver, and before the sender is answered: JSON.parse
    // accepts nesting that JSON.stringify cannot write back (it recurses), and such a body
    // must be refused here rather than accepted and then fail every delivery.
    let body: string
    try {
      // The sender's id passes through unchanged; `sender` is not forwarded, as in the original.
      body = JSON.stringify({ id, payload: envelope.payload, responseTo })
    } catch (error) {
      return batchFailure(
        400,
        ErrorCodes.INVALID_MESSAGE,
        `The body of the message ${describeValue(name)} cannot be forwarded: it cannot be written as JSON again (${error instanceof Error ? error.message : String(error)}).`,
      )
    }
    const { publicName, deliveries } = table.route(sender, name, responseTo)
    if (deliveries.length === 0) {
      const message = `No service receives the message '${publicName}'.`
      log.warn({ sender, messageName: publicName, messageId: id }, message)
      return batchFailure(404, ErrorCodes.NO_RECEIVER, message)
    }
    table.remember(id, sender)
    const routed: RoutedMessage = { publicName, sender, id, responseTo, body }
    for (const delivery of deliveries) deliverer.deliver(delivery, routed)
    // Accepted for delivery: a slow receiver must never stall the sender.
    return BATCH_ACCEPTED
  }

  // A wildcard, not `:name`: Fastify's maxParamLength would turn a long name into a 404.
  app.post('/send/*', (request, reply) => {
    if (closing !== undefined) {
      // Deliveries started now could not be waited for; the sender learns it at once.
      answer(reply, 503, ErrorCodes.BUS_CLOSING, 'ExoCom is shutting down')
      return
    }
    const name = wildcard(request)
    const refused = refuseName(name)
    if (refused !== undefined) {
      answerResult(reply, refused)
      return
    }
    let envelope: Envelope
    try {
      envelope = parseEnvelope(name, request.body)
    } catch (error) {
      answerError(reply, error)
      return
    }
    answerResult(reply, route(envelope))
  })

  if (batches) {
    // A batch (decision 0011): each message routed as if it had come alone, answered with
    // one result per message, in order.
    app.post(SEND_BATCH_PATH, (request, reply) => {
      if (closing !== undefined) {
        answer(reply, 503, ErrorCodes.BUS_CLOSING, 'ExoCom is shutting down')
        return
      }
      let entries: Array<Envelope | ProtocolError>
      try {
        entries = parseBatch(request.body)
      } catch (error) {
        answerError(reply, error)
        return
      }
      const items = request.body as unknown[]
      const results = new Array<BatchResult>(entries.length)
      for (let index = 0; index < entries.length; index++) {
        const entry = entries[index]!
        results[index] =
          entry instanceof ProtocolError ? refusalOf(entry, items[index]) : route(entry)
      }
      reply.code(200).send(results)
    })
  }

  app.post('/services', (request, reply) => {
    let services: ServiceRegistration[]
    try {
      services = validateServices(request.body)
    } catch (error) {
      answerError(reply, error, ErrorCodes.BUS_INVALID_REGISTRATION)
      return
    }
    replaceTable(services)
    reply.code(200).send()
  })

  app.put('/services/*', (request, reply) => {
    const name = wildcard(request)
    let service: ServiceRegistration
    try {
      service = validateService(request.body, 'The registration')
    } catch (error) {
      answerError(reply, error, ErrorCodes.BUS_INVALID_REGISTRATION)
      return
    }
    if (service.name !== name) {
      answer(
        reply,
        400,
        ErrorCodes.BUS_INVALID_REGISTRATION,
        `The registration is named '${service.name}' but was sent to '/services/${name}': the names must match.`,
      )
      return
    }
    const previous = table.get(name)
    table.upsert(service)
    deliverer.retain(table.services())
    deliverer.registered([service])
    const fields = {
      service: name,
      host: service.host,
      port: service.port,
      receives: service.receives,
    }
    // Relays register again every few seconds so a restarted bus relearns them: only a
    // change is news worth an info line.
    if (previous === undefined) log.info(fields, `service '${name}' registered`)
    else if (JSON.stringify(previous) !== JSON.stringify(service)) {
      log.info(fields, `service '${name}' registered again`)
    } else log.debug(fields, `service '${name}' refreshed its registration`)
    if (batches) reply.code(200).send(BATCHES_OFFERED)
    else reply.code(200).send()
  })

  app.delete('/services/*', (request, reply) => {
    const name = wildcard(request)
    if (!table.remove(name)) {
      answer(reply, 404, ErrorCodes.BUS_UNKNOWN_SERVICE, `No service is registered as '${name}'.`)
      return
    }
    deliverer.retain(table.services())
    log.info({ service: name }, `service '${name}' withdrawn`)
    reply.code(200).send()
  })

  app.get('/config.json', (_request, reply) => {
    reply.send(table.config())
  })

  app.get('/status', { config: OPEN_ROUTE }, (_request, reply) => {
    reply.code(200).send()
  })

  let bound: number
  try {
    await app.listen({ port, host })
    bound = (app.server.address() as AddressInfo).port
  } catch (cause) {
    await app.close().catch(() => {})
    await deliverer.close()
    throw toListenError(cause, host, port)
  }
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`
  log.info(
    { port: bound, url, auth: token === undefined ? 'none' : 'token' },
    `ExoCom online at ${url}`,
  )

  return {
    port: bound,
    url,
    config: () => table.config(),
    setServices: (services) => replaceTable(validateServices(services)),
    close: () => {
      closing ??= (async () => {
        // `closing` is set: from here /send answers 503, so no new delivery starts. The port
        // stays open while the deliveries in flight finish, so a late sender gets that 503
        // rather than a hang; then the port is freed.
        log.info({ port: bound }, 'ExoCom shutting down')
        await deliverer.close()
        // A client stalling halfway through a request must not hold close() for ever.
        await closeCuttingStalled(app.server, requestTimeout, () => app.close())
        log.info({ port: bound }, 'ExoCom offline')
      })()
      return closing
    },
  }
}

function wildcard(request: FastifyRequest): string {
  return (request.params as { '*': string })['*']
}

function answer(reply: FastifyReply, status: number, code: ErrorCode, message: string): void {
  reply.code(status).header(ERROR_CODE_HEADER, code).type('text/plain; charset=utf-8').send(message)
}

/** Answers the single route with what routing said about its message. */
function answerResult(reply: FastifyReply, result: BatchResult): void {
  if (result === BATCH_ACCEPTED) reply.code(200).send()
  else answer(reply, result.status, result.code!, result.error!)
}

/** What the single route would have answered for a batch entry that `parseBatch` refused. */
function refusalOf(error: ProtocolError, item: unknown): BatchResult {
  // parseEnvelope checks the name first: a bad one gets the single route's sentence.
  const refused =
    error.code === ErrorCodes.UNKNOWN_MESSAGE
      ? refuseName((item as { name?: unknown }).name)
      : undefined
  return refused ?? batchFailure(statusOf(error.code), error.code, error.message)
}

/**
 * The answer to a message whose name cannot be routed, or `undefined` for a good name. Not
 * core's `unknown message: '<name>'`: a rejected name may be long, so it is quoted short.
 */
function refuseName(name: unknown): BatchResult | undefined {
  const problem = describeInvalidName(name)
  if (problem === undefined) return undefined
  return batchFailure(
    404,
    ErrorCodes.UNKNOWN_MESSAGE,
    `Unknown message ${describeValue(name)}: a message name ${problem}.`,
  )
}

/**
 * Answers an error from parsing or validation with the status of its code (404 for names, 400
 * otherwise), or of `code` when the bus answers it with a code of its own.
 */
function answerError(reply: FastifyReply, error: unknown, code?: ErrorCode): void {
  if (!(error instanceof ExoRelayError)) throw error
  const answered = code ?? error.code
  answer(reply, statusOf(answered), answered, error.message)
}

function describeClientError(
  error: FastifyError,
  request: FastifyRequest,
  bodyLimit: number,
): string {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return `The content type ${describeValue(request.headers['content-type'])} is not supported: send application/json.`
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return `The request body is larger than the limit of ${bodyLimit} bytes.`
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'The request body is empty although its content type is application/json.'
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      // Fastify's proto-poisoning protection refuses `__proto__` keys with this same error.
      return "The request body is not valid JSON, or it has a '__proto__' key."
    default:
      return `The request is invalid: ${error.message}`
  }
}

function toListenError(cause: unknown, host: string, port: number): ListenError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code
  if (code === 'EADDRINUSE') {
    return new ListenError(
      ErrorCodes.ADDRESS_IN_USE,
      `ExoCom cannot listen on port ${port} of '${host}': the port is already in use.`,
      { cause },
    )
  }
  return new ListenError(
    ErrorCodes.LISTEN_FAILED,
    `ExoCom cannot listen on port ${port} of '${host}': ${String(cause)}.`,
    { cause },
  )
}

function positiveInteger(value: unknown, fallback: number, option: string): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw invalidOption(
      `The ${option} option must be a positive integer, got ${describeValue(value)}.`,
    )
  }
  return value
}

function invalidOption(message: string): InvalidArgumentError {
  return new InvalidArgumentError(ErrorCodes.INVALID_OPTION, message)
}

function createDefaultLogger(): Logger {
  if (!process.stdout.isTTY) return pino({ level: 'info' })
  // On a terminal the message line is the point; the routing fields stay in JSON mode.
  const stream = pretty({
    colorize: true,
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore:
      'pid,hostname,sender,receiver,messageName,messageId,responseTo,internalName,services,port,url',
  })
  return pino({ level: 'info' }, stream)
}
