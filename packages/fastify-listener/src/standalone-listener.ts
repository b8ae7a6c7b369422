import {
  checkPort,
  ErrorCodes,
  InvalidArgumentError,
  ListenError,
  type Logger,
  type Receiver,
} from '@exorelay/core'
import { checkInteger, checkNonEmptyString, describeValue } from '@exorelay/core/internal'
import { checkRequestTimeout, closeCuttingStalled } from '@exorelay/http-protocol'
import type { FastifyInstance, FastifyPluginCallback, FastifyRequest } from 'fastify'
import { PHRASES } from './answer.js'
import {
  capConnections,
  DEFAULT_MAX_CONNECTIONS,
  listenError,
  protocolServerOptions,
} from './protocol-server.js'
import { checkListenerOptions, mountRoutes } from './routes.js'
import { fastifyWithLazySchemaCompilers } from './schema-compilers.js'

/** Options of {@link StandaloneListener}. */
export interface StandaloneListenerOptions {
  /**
   * The address to bind. Loopback by default, so a relay is not reachable from
   * the network by accident. In a container, where ExoCom runs elsewhere, set `'0.0.0.0'`.
   * @default `'127.0.0.1'`
   */
  host?: string
  /**
   * Largest accepted body in bytes; larger bodies are answered 413.
   * @default `1_048_576` (1 MiB)
   */
  bodyLimit?: number
  /**
   * Where lifecycle events and request outcomes are logged (pino-compatible).
   * @default `silentLogger`
   */
  logger?: Logger
  /**
   * The shared secret of the ExoCom installation: `POST /run/*` without `authorization:
   * Bearer <token>` is answered 401 before its body is read; `GET /status` stays open.
   * See {@link ListenerRoutesOptions.token}.
   * @default none (no check)
   */
  token?: string | undefined
  /**
   * With `token`: told whether each request to `POST /run*` carried it. See
   * {@link ListenerRoutesOptions.onTokenCheck}.
   */
  onTokenCheck?: ((accepted: boolean, request: FastifyRequest) => void) | undefined
  /**
   * Readiness details for `GET /status` (a cheap function, no I/O). See {@link ListenerRoutesOptions.status}.
   * @default none (an empty 200)
   */
  status?: (() => Record<string, unknown>) | undefined
  /**
   * Milliseconds a client may take to send one whole request, headers and body. A client that
   * has not finished by then gets `408` (code `EXORELAY_ERR_PROTOCOL_INVALID_MESSAGE`) and its
   * connection is closed, so a client that stalls halfway (slowloris) cannot hold a
   * connection for ever. The server checks about once a second, so the cut comes up to a
   * second late. `0` disables it (Node's 60 s limit for the headers still holds).
   * @default `10_000`
   */
  requestTimeout?: number | undefined
  /**
   * Connections kept open at once. Node closes each connection beyond it as soon as it is
   * accepted, without an answer (the first is logged at `warn`, then at most one line every
   * 10 s), so a flood of idle or half-open connections cannot take the process's file
   * descriptors; the bus opens at most 64 connections per receiver. A positive integer.
   * @default `1_024`
   */
  maxConnections?: number | undefined
  /**
   * Accept batches on `POST /run`. See {@link ListenerRoutesOptions.batches}.
   * @default `true`
   */
  batches?: boolean | undefined
}

/**
 * The relay's own Fastify server on its own port, serving {@link exoRelayRoutes}. Use it when
 * the service has no Fastify app to mount the routes into.
 *
 * @example
 * ```ts
 * import { StandaloneListener } from '@exorelay/fastify-listener'
 *
 * const listener = new StandaloneListener({ host: '0.0.0.0' })
 * const port = await listener.listen(relayReceiver, 4001)
 * // … ExoCom now delivers to POST http://<host>:4001/run/<name>
 * await listener.close()
 * ```
 */
export class StandaloneListener {
  /** The underlying Fastify app, e.g. to add a route before `listen`. */
  readonly app: FastifyInstance
  readonly #host: string
  readonly #log: Logger
  readonly #requestTimeout: number
  #receiver: Receiver | undefined
  #listening: Promise<number> | undefined
  #closing: Promise<void> | undefined

  constructor(options: StandaloneListenerOptions = {}) {
    const owner = 'StandaloneListener'
    const host = checkNonEmptyString(options.host, `host of ${owner}`, '127.0.0.1')
    // Checked once, here: the routes are mounted with them as they are.
    const routes = checkListenerOptions({ ...options, receiver: () => this.#receiver }, owner)
    const { bodyLimit, logger } = routes
    const requestTimeout = checkRequestTimeout(
      options.requestTimeout,
      `The requestTimeout option of ${owner}`,
    )
    const maxConnections = checkInteger(
      options.maxConnections,
      `maxConnections of ${owner}`,
      1,
      DEFAULT_MAX_CONNECTIONS,
    )
    this.#host = host
    this.#log = logger
    this.#requestTimeout = requestTimeout
    // The routes have no schemas: Ajv and fast-json-stringify load only if a route added to
    // `app` has one.
    this.app = fastifyWithLazySchemaCompilers({
      ...protocolServerOptions({ requestTimeout, bodyLimit, texts: PHRASES, logger }),
      // The bus keeps connections alive; without this, close() would wait for their timeout.
      forceCloseConnections: 'idle',
    })
    capConnections(this.app.server, maxConnections, logger)
    const plugin: FastifyPluginCallback = (instance, _options, done) => {
      mountRoutes(instance, routes)
      done()
    }
    Object.defineProperty(plugin, Symbol.for('fastify.display-name'), {
      value: 'exorelay-routes',
    })
    this.app.register(plugin)
  }

  /**
   * Binds `port` on the configured host and serves the routes with `receiver`. Resolves with
   * the bound port (`0` binds any free port). Calling it again while listening returns the
   * same promise. A failed listen leaves the listener able to try again or close.
   *
   * Rejects with a `ListenError`: code `ADDRESS_IN_USE` when the port is taken,
   * `LISTEN_FAILED` (with the system error as `cause`) otherwise or after `close()`; and with
   * an `InvalidArgumentError` (`INVALID_OPTION`) for a port outside 0–65535.
   */
  listen(receiver: Receiver, port: number): Promise<number> {
    if (this.#closing !== undefined) {
      return Promise.reject(
        new ListenError(
          ErrorCodes.LISTEN_FAILED,
          'This listener is closed: it cannot listen again.',
        ),
      )
    }
    if (this.#listening !== undefined) return this.#listening
    let portNumber: number
    try {
      if (typeof receiver !== 'function') {
        // An argument, not an option.
        throw new InvalidArgumentError(
          ErrorCodes.INVALID_OPTION,
          `StandaloneListener#listen needs a receiver function, got ${describeValue(receiver)}.`,
        )
      }
      portNumber = checkPort(port)
    } catch (error) {
      return Promise.reject(error)
    }
    const listening = this.#bind(receiver, portNumber)
    this.#listening = listening
    listening.catch(() => {
      // Forget the failed attempt so that a later listen() tries again.
      if (this.#listening === listening) this.#listening = undefined
    })
    return listening
  }

  async #bind(receiver: Receiver, port: number): Promise<number> {
    const host = this.#host
    this.#receiver = receiver
    try {
      await this.app.listen({ port, host })
    } catch (error) {
      this.#receiver = undefined
      // Not logged here: the rejection is the report, and the relay logs it once.
      throw listenError(
        error,
        `Port ${port} is already in use on ${host}.`,
        (reason) => `Could not listen on port ${port} of '${host}': ${reason}.`,
      )
    }
    const address = this.app.server.address()
    const bound = typeof address === 'object' && address !== null ? address.port : port
    this.#log.debug({ host, port: bound }, 'listening')
    return bound
  }

  /**
   * Stops accepting connections, waits for in-flight requests to be answered, and frees the
   * port. Idle keep-alive connections are closed at once; a connection whose request is still
   * not complete `requestTimeout` later is cut off. Idempotent: every call returns the same
   * promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown()
    return this.#closing
  }

  async #shutdown(): Promise<void> {
    // A listen still binding finishes first, so that its port is released too.
    await this.#listening?.catch(() => {})
    // A client stalling halfway through a request must not hold close() for ever.
    await closeCuttingStalled(this.app.server, this.#requestTimeout, () => this.app.close())
    this.#receiver = undefined
    this.#log.debug({ host: this.#host }, 'closed')
  }
}
