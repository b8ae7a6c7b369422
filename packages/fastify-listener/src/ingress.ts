import {
  type Envelope,
  ErrorCodes,
  type Logger,
  ProtocolError,
  parseEnvelope,
  silentLogger,
} from '@exorelay/core'
import { describeInvalidName } from '@exorelay/core/internal'
import {
  answerOf,
  BATCH_ACCEPTED,
  type BatchResult,
  batchFailure,
  bearerMatcher,
  type ErrorAnswer,
  parseBatch,
  statusOf,
} from '@exorelay/http-protocol'
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifyServerOptions,
  onRequestHookHandler,
} from 'fastify'
import { type AnswerTexts, answerForFastifyError, sendErrorAnswer } from './answer.js'

/**
 * The ExoCom HTTP ingress: where messages come in over Fastify, for the relay (`POST /run/*`,
 * `POST /run`) and for the bus (`POST /send/*`, `POST /send`) alike. One place reads the name
 * and the body, parses the envelope or the batch, refuses what the protocol refuses, and
 * writes the answers; each side passes in what it does with a message and how its answers
 * read.
 */

/** Route config marking the routes the token check lets through (`GET /status`). */
export const OPEN_ROUTE = Object.freeze({ exoRelayOpen: true })

const UNAUTHORIZED: ErrorAnswer = Object.freeze({
  status: statusOf(ErrorCodes.UNAUTHORIZED),
  code: ErrorCodes.UNAUTHORIZED,
  text: 'missing or invalid token',
})

/** Options of {@link addIngressRoutes}. */
export interface IngressOptions {
  /** `'/run'` (the relay) or `'/send'` (the bus): `POST <prefix>/<name>` and `POST <prefix>`. */
  readonly prefix: string
  readonly bodyLimit: number
  /** Whether `POST <prefix>` takes batches (decision 0011). */
  readonly batches: boolean
  /**
   * What `POST <prefix>` does with a body that is not a batch: `'single'` answers it as a
   * message without a name (the relay, as the original did: 404 `unknown message: ''`);
   * `'batch'` refuses it as a bad batch, and without batches the route is not added (the bus).
   */
  readonly unbatched: 'single' | 'batch'
  /** What is done with one parsed message of `request`; the result is its answer. */
  readonly handle: (envelope: Envelope, request: FastifyRequest) => BatchResult
  /** An answer for every message of a request, before any is read (the bus while closing). */
  readonly refusal?: (() => BatchResult | undefined) | undefined
  readonly texts: AnswerTexts
  /** Where refused messages and batches are logged. Default: `silentLogger`. */
  readonly logger?: Logger | undefined
}

/** Adds the single and the batch route of the ingress to `instance`. */
export function addIngressRoutes(instance: FastifyInstance, options: IngressOptions): void {
  const { handle, refusal, texts, bodyLimit, batches } = options
  const log = options.logger ?? silentLogger

  function single(name: string, body: unknown, request: FastifyRequest): BatchResult {
    const refused = refusal?.()
    if (refused !== undefined) return refused
    let envelope: Envelope
    try {
      envelope = parseEnvelope(name, body)
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error
      return rejected(error, name)
    }
    return handle(envelope, request)
  }

  function batch(body: unknown, request: FastifyRequest, reply: FastifyReply): void {
    const refused = refusal?.()
    if (refused !== undefined) {
      sendResult(reply, refused)
      return
    }
    let entries: Array<Envelope | ProtocolError>
    try {
      entries = parseBatch(body)
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error
      const answer = answerOf(error)
      log.warn({ status: answer.status, code: answer.code }, `batch rejected: ${answer.text}`)
      sendErrorAnswer(reply, answer)
      return
    }
    // Each message gets what the single route answers it: a message it would refuse is
    // refused, the others are handled, in order.
    const items = body as unknown[]
    const results = new Array<BatchResult>(entries.length)
    for (let index = 0; index < entries.length; index++) {
      const entry = entries[index]!
      results[index] =
        entry instanceof ProtocolError
          ? rejected(entry, (items[index] as { name?: unknown } | null)?.name)
          : handle(entry, request)
    }
    // One result per message, in order; a message's failure is in its result, not the status.
    reply.code(200).send(results)
  }

  /** The result for a message `parseEnvelope` refused, logged like every refusal. */
  function rejected(error: ProtocolError, name: unknown): BatchResult {
    // parseEnvelope checks the name first; a side with its own text for a bad name uses it.
    const problem =
      error.code === ErrorCodes.UNKNOWN_MESSAGE && texts.invalidName !== undefined
        ? describeInvalidName(name)
        : undefined
    const text = problem === undefined ? error.message : texts.invalidName!(name, problem)
    const status = statusOf(error.code)
    log.warn(
      { messageName: typeof name === 'string' ? name : undefined, status, code: error.code },
      `message rejected: ${text}`,
    )
    return batchFailure(status, error.code, text)
  }

  // A wildcard rather than `<prefix>/:name`: Fastify answers 404 for params longer than
  // `maxParamLength` (100 by default), and names may be up to 512 characters. A name is
  // decoded once, by the router (`a%2Fb` is `a/b`).
  instance.post(`${options.prefix}/*`, { bodyLimit }, (request, reply) => {
    sendResult(reply, single(wildcardOf(request) ?? '', request.body, request))
  })
  if (options.unbatched === 'single') {
    instance.post(options.prefix, { bodyLimit }, (request, reply) => {
      const body = request.body
      if (batches && Array.isArray(body)) batch(body, request, reply)
      else sendResult(reply, single('', body, request))
    })
  } else if (batches) {
    instance.post(options.prefix, { bodyLimit }, (request, reply) => {
      batch(request.body, request, reply)
    })
  }
}

/** Answers a single message with its result: an empty 200, or the failure in text form. */
export function sendResult(reply: FastifyReply, result: BatchResult): void {
  if (result === BATCH_ACCEPTED) {
    // An empty body, as the original relay and ExoCom expect: not "OK", not JSON.
    reply.code(200).send()
    return
  }
  // Every other result comes from batchFailure, with a code and a text.
  if (result.retryAfter !== undefined) reply.header('retry-after', String(result.retryAfter))
  sendErrorAnswer(reply, { status: result.status, code: result.code!, text: result.error! })
}

/**
 * The error handler of the ingress: answers what Fastify could not read in the style of
 * `texts`, and hands every other error to `otherwise`.
 */
export function ingressErrorHandler(options: {
  bodyLimit: number
  texts: AnswerTexts
  logger?: Logger | undefined
  otherwise: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void
}): (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void {
  const { bodyLimit, texts, otherwise } = options
  const log = options.logger ?? silentLogger
  return (error, request, reply) => {
    const answer = answerForFastifyError(error, request, bodyLimit, texts)
    if (answer === undefined) {
      otherwise(error, request, reply)
      return
    }
    log.warn(
      { messageName: wildcardOf(request), status: answer.status, code: answer.code },
      `message rejected: ${answer.text}`,
    )
    sendErrorAnswer(reply, answer)
  }
}

/**
 * Fastify's `frameworkErrors` option for a server of the protocol: the router rejects a URL
 * with broken percent-encoding before any route runs, and it gets the protocol's answer too.
 */
export function frameworkErrors(options: {
  bodyLimit: number
  texts: AnswerTexts
  logger?: Logger | undefined
}): NonNullable<FastifyServerOptions['frameworkErrors']> {
  const { bodyLimit, texts, logger } = options
  return (error, request, reply) => {
    const answer = answerForFastifyError(error, request, bodyLimit, texts) ?? {
      status: error.statusCode ?? 400,
      code: ErrorCodes.INVALID_MESSAGE,
      text: texts.otherClientError(error.message),
    }
    logger?.warn({ status: answer.status, code: answer.code }, `message rejected: ${answer.text}`)
    sendErrorAnswer(reply, answer)
  }
}

/** Told the outcome of each token check: whether `request` carried the token. */
export type TokenChecked = (accepted: boolean, request: FastifyRequest) => void

/**
 * The token check: an `onRequest` hook refusing with 401 `missing or invalid token` every
 * request without `authorization: Bearer <token>`, except on routes with {@link OPEN_ROUTE}.
 * onRequest runs before the body is read: a client without the secret cannot make the server
 * parse anything. The token never appears in a log line. `checked`, when given, hears the
 * outcome of every check (not of the open routes), before the request goes on or is answered.
 */
export function tokenCheck(
  token: string,
  logger: Logger,
  checked?: TokenChecked,
): onRequestHookHandler {
  const matches = bearerMatcher(token)
  return credentialCheck(
    (authorization) => (matches(authorization) ? true : undefined),
    logger,
    checked === undefined ? undefined : (identity, request) => checked(identity === true, request),
  )
}

/**
 * The credential check behind {@link tokenCheck}, for servers that tell several credentials
 * apart (the bus in identity mode): `identify` maps the `authorization` header to whom it
 * belongs, or `undefined` for none, which is refused with 401 as `tokenCheck` refuses it.
 * `checked` hears whom each checked request identified (`undefined`: refused), before the
 * request goes on or is answered; it may answer the request itself (a 403), and then the
 * request stops there. `unauthorizedText` replaces the 401's sentence; it starts with
 * `missing or invalid token`, which clients look for.
 */
export function credentialCheck<T>(
  identify: (authorization: unknown) => T | undefined,
  logger: Logger,
  checked?: (identity: T | undefined, request: FastifyRequest, reply: FastifyReply) => void,
  unauthorizedText?: string,
): onRequestHookHandler {
  const unauthorized: ErrorAnswer =
    unauthorizedText === undefined ? UNAUTHORIZED : { ...UNAUTHORIZED, text: unauthorizedText }
  return (request, reply, done) => {
    // Health checks carry no secrets, and the status reveals nothing.
    const config = request.routeOptions.config as { exoRelayOpen?: boolean } | undefined
    if (config?.exoRelayOpen === true) {
      done()
      return
    }
    const identity = identify(request.headers.authorization)
    if (identity !== undefined) {
      checked?.(identity, request, reply)
      if (!reply.sent) done()
      return
    }
    checked?.(undefined, request, reply)
    logger.warn(
      {
        method: request.method,
        url: request.url,
        messageName: wildcardOf(request),
        status: UNAUTHORIZED.status,
        code: UNAUTHORIZED.code,
      },
      `request refused: ${unauthorized.text}`,
    )
    reply.header('www-authenticate', 'Bearer')
    sendErrorAnswer(reply, unauthorized)
  }
}

/** The name in a wildcard route (`/run/*`, `/send/*`, `/services/*`), decoded by the router. */
export function wildcardOf(request: FastifyRequest): string | undefined {
  return (request.params as { '*'?: string } | undefined)?.['*']
}
