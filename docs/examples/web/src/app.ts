import {
  type ErrorCode,
  ErrorCodes,
  type ExoRelayPluginOptions,
  exorelayPlugin,
  isExoRelayError,
} from 'exorelay'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify'
import { z } from 'zod'
import { contract, newUser, type WebMessages } from './contract.js'
import { traceRequests } from './request-spans.js'

/** How long the API waits for a service's reply unless told otherwise: 5 seconds. */
export const DEFAULT_TIMEOUT = 5_000

export interface BuildAppOptions {
  /**
   * Options of the relay mounted in the app (`exocomPort`, `exocomHost`, …). `serviceName`
   * defaults to `'web'`; the logger is the app's (the port is always the app's).
   */
  relay?: Omit<ExoRelayPluginOptions, 'logger'>
  /**
   * Milliseconds to wait for the users service's reply. Default 5000. A client may ask for
   * less with `?timeout=`, never for more.
   */
  timeout?: number
  /** A pino logger for the app and its relay, or `false` for silence. Default `false`. */
  logger?: FastifyBaseLogger | false
}

interface CreateUserQuery {
  timeout?: string
}

const createUserSchema = {
  // Milliseconds, as digits: a query string is text, and a JSON API does not coerce types.
  querystring: {
    type: 'object',
    properties: { timeout: { type: 'string', pattern: '^[1-9][0-9]{0,8}$' } },
  },
  // The payload of users.create, as JSON Schema: the body's limits are the contract's. An empty
  // name is the users service's call (422), not a malformed request (400).
  body: z.toJSONSchema(newUser, { target: 'draft-07' }),
}

/**
 * The web service: a Fastify HTTP API whose relay is mounted in the same app by the `exorelay`
 * plugin, so that one port serves both the API and the bus's deliveries. The relay,
 * `app.exorelay`, goes online (registered with the bus) just after the app listens and
 * withdraws from the bus when the app closes.
 *
 * - `POST /users {name, password}`: 201 `{id, name}`, 422 `{error}` when the users service
 *   answers `users.not-created`, 400 for a malformed body. `?timeout=300` waits 300 ms at
 *   most instead of `timeout`.
 * - `GET /users`: 200 `[{id, name}]`.
 * - Failures of the message flow are JSON `{error: {code, message}}`: 504 when no reply came
 *   in time, 503 when no service receives the message or the bus is unreachable, 502 when the
 *   bus refused the message, the users service failed (its error reply) or its reply does not
 *   match the contract.
 * - Each API request is an OpenTelemetry SERVER span (`POST /users`), the parent of the
 *   messages it sends: with an SDK in the process, a trace starts here.
 *
 * @example
 * ```ts
 * const app = await buildApp({ relay: { exocomPort: 3100 } })
 * app.exorelay.on('online', (port) => console.log(`API and relay on port ${port}`))
 * await app.listen({ port: 3000, host: '127.0.0.1' })
 * ```
 */
export async function buildApp(options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const timeout = options.timeout ?? DEFAULT_TIMEOUT
  const logger = options.logger ?? false
  const app = Fastify({
    ...(logger === false ? { logger: false } : { loggerInstance: logger }),
    // Fastify's two lines per request would drown the message flow; the API logs one.
    logController: new LogController({ disableRequestLogging: true }),
    // A JSON API takes a number for a string as the client's mistake, not a hint to convert.
    ajv: { customOptions: { coerceTypes: false } },
  })
  // The relay logs through the app's logger. It is typed by the contract (its map is declared in
  // `Register`, in contract.ts) and checks the replies against it before `send` resolves.
  await app.register(exorelayPlugin, { serviceName: 'web', contract, ...options.relay })

  // The API in a context of its own: its request log leaves out the bus's deliveries to the
  // relay's routes, whose flow ExoCom's console already shows.
  app.register(async (api) => {
    api.addHook('onResponse', async (request, reply) => {
      request.log.info(
        { method: request.method, url: request.url, statusCode: reply.statusCode },
        `${request.method} ${request.url} ${reply.statusCode}`,
      )
    })

    traceRequests(api)

    api.post<{ Body: WebMessages['users.create']['payload']; Querystring: CreateUserQuery }>(
      '/users',
      { schema: createUserSchema },
      async (request, reply) => {
        const { name, password } = request.body
        // The deadline travels: users and passwords stop their work when it passes.
        const wait = Math.min(timeout, Number(request.query.timeout ?? timeout))
        // `envelope()` gives the outcome's name, so both outcomes can be told apart.
        const outcome = await api.exorelay
          .send('users.create', { name, password }, { timeout: wait })
          .envelope()
        if (outcome.name === 'users.not-created') {
          return reply
            .code(422)
            .send({ error: { code: outcome.name, message: outcome.payload.reason } })
        }
        // The contract's `users.created` is `{ id, name }`: the relay's check of the reply drops
        // whatever else a service put in it (a password hash, say).
        return reply.code(201).send(outcome.payload)
      },
    )

    api.get('/users', () => api.exorelay.send('users.list', undefined, { timeout }))
  })

  app.setErrorHandler((error, request, reply) => {
    if (isExoRelayError(error)) {
      request.log.warn({ code: error.code }, error.message)
      return reply
        .code(statusFor(error.code))
        .send({ error: { code: error.code, message: error.message } })
    }
    const clientError = asClientError(error)
    if (clientError !== undefined) {
      return reply
        .code(clientError.statusCode)
        .send({ error: { code: clientError.code, message: clientError.message } })
    }
    request.log.error({ err: error }, 'request failed')
    return reply.code(500).send({
      error: { code: 'INTERNAL_ERROR', message: 'The request failed; see the web service log.' },
    })
  })

  return app
}

/** The HTTP status that tells a client what a failed message flow means for it. */
function statusFor(code: ErrorCode): number {
  switch (code) {
    case ErrorCodes.TIMEOUT:
      return 504
    case ErrorCodes.NO_RECEIVER:
    case ErrorCodes.BUS_UNREACHABLE:
    case ErrorCodes.CLOSED:
      return 503
    case ErrorCodes.BUS_REFUSED:
    case ErrorCodes.REMOTE_HANDLER_FAILED:
    // The users service answered what web's contract does not allow, or refused a payload
    // that passed the API's body schema (web's contract): either way the two contracts differ,
    // a fault between the services, not the client's.
    case ErrorCodes.REPLY_INVALID:
    case ErrorCodes.PAYLOAD_INVALID:
      return 502
    default:
      return 500
  }
}

/** Fastify's own 4xx errors (schema validation, unparsable JSON, wrong content type). */
function asClientError(
  error: unknown,
): { statusCode: number; code: string; message: string } | undefined {
  if (error === null || typeof error !== 'object') return undefined
  const { statusCode, code, message } = error as {
    statusCode?: unknown
    code?: unknown
    message?: unknown
  }
  if (typeof statusCode !== 'number' || statusCode < 400 || statusCode >= 500) return undefined
  return {
    statusCode,
    code: typeof code === 'string' ? code : 'BAD_REQUEST',
    message: typeof message === 'string' ? message : 'The request is invalid.',
  }
}
