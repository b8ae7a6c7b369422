import { randomBytes } from 'node:crypto'
import type {
  BusState,
  BusStatus,
  Endpoint,
  ExoRelayError,
  ListenInfo,
  Logger,
  OutgoingEnvelope,
  Transport,
  TransportSendOptions,
} from '@exorelay/core'
import { ErrorCodes, isExoRelayError, ListenError } from '@exorelay/core'
import { checkBoolean, checkFunction, checkInteger, formatDuration } from '@exorelay/core/internal'
import { exoRelayRoutes, StandaloneListener } from '@exorelay/fastify-listener'
import {
  DEFAULT_REGISTER_INTERVAL,
  MAX_REGISTER_INTERVAL,
  type ServiceRegistration,
} from '@exorelay/http-protocol'
import { UndiciSender } from '@exorelay/undici-sender'
import type { FastifyInstance } from 'fastify'
import type { Dispatcher } from 'undici'
import { claimApp, onceListening } from './mounted.js'
import { TokenMismatch } from './token-mismatch.js'

/** How long one self-registration request may take. */
const REGISTER_TIMEOUT = 2_000
/** Backoff between registration attempts while the bus is unreachable: 100 ms doubling to 5 s. */
const REGISTER_RETRY_FIRST = 100
const REGISTER_RETRY_MAX = 5_000

/** Options of {@link HttpTransport}; the `exorelay` facade builds them from its own. */
export interface HttpTransportOptions {
  /** ExoCom's host. */
  exocomHost: string
  /** ExoCom's port. */
  exocomPort: number
  /** The port used when `listen()` is called without one. */
  defaultPort: number
  /** Where the standalone listener binds. */
  host: string
  /** The host the bus delivers to, announced by self-registration. */
  advertisedHost: string
  /** Mount the relay's routes into this app instead of running a server of its own. */
  fastify?: FastifyInstance | undefined
  bodyLimit?: number | undefined
  /**
   * Milliseconds a client may take to send one whole request to the standalone listener; a
   * stalled one gets 408 and its connection is closed. Default 10,000. Not applied when
   * mounted: the app's own server owns its timeouts.
   */
  requestTimeout?: number | undefined
  /**
   * Connections the standalone listener keeps open at once; each one beyond it is closed as
   * soon as it is accepted, without an answer. A positive integer. Default 1,024. Not applied
   * when mounted: the app's own server owns its connections.
   */
  maxConnections?: number | undefined
  /** Announce the service to the bus when online, withdraw it on close. Default true. */
  register?: boolean | undefined
  dispatcher?: Dispatcher | undefined
  /** Shared secret: sent as a bearer token to the bus, required from it. */
  token?: string | undefined
  /** Milliseconds between registrations while online. Default 5,000. */
  registerInterval?: number | undefined
  /**
   * The batch extension (decision 0011), both ways: offer batches in the registration and
   * accept them on `POST /run`, and send batches to a bus that offers them. Default true.
   */
  batches?: boolean | undefined
  /** Requests to the bus under way before messages wait for a batch. Default 2. */
  batchAfter?: number | undefined
  /** A pino-compatible logger. */
  logger: Logger
  /**
   * Told of a problem no call of the relay returns, once per problem, after it was logged at
   * `error`: today a token mismatch with the bus, a `TransportError` coded
   * `EXORELAY_ERR_AUTH_UNAUTHORIZED` (`status: 401`) whose message names the fix. The bus
   * refused the relay's registration or a send with 401, or the listener refused a delivery
   * without the relay's token; `busStatus().bus` is `'unauthorized'` meanwhile. `exorelay`
   * emits it as the relay's `error` event. And a registration the bus refuses for the relay's
   * credential (identity mode): a `TransportError` coded `EXORELAY_ERR_AUTH_FORBIDDEN`
   * (`status: 403`) with the bus's reason, told once until a registration is taken again.
   * Default: none (the log line only).
   */
  onError?: ((error: ExoRelayError) => void) | undefined
}

/**
 * ExoCom's HTTP protocol as a `Transport`: a Fastify listener receives `POST /run/:name`, an
 * undici sender posts `/send/:name`, and with the batch extension (decision 0011) both
 * also carry several messages per request, `POST /run` and `POST /send`. The listener runs on its own port, or inside the user's
 * Fastify app so that one server serves both the API and the relay (then `mountRelay` lets the
 * app's `listen` and `close` drive the relay).
 *
 * @example
 * ```ts
 * const transport = new HttpTransport({
 *   exocomHost: 'localhost', exocomPort: 3100, defaultPort: 4000,
 *   host: '127.0.0.1', advertisedHost: 'localhost', logger: silentLogger,
 * })
 * const relay = new Relay({ serviceName: 'users', transport })
 * await relay.listen()
 * ```
 */
export class HttpTransport implements Transport {
  readonly #options: HttpTransportOptions
  readonly #sender: UndiciSender
  readonly #listener: StandaloneListener | undefined
  readonly #app: FastifyInstance | undefined
  readonly #register: boolean
  // This relay's instance of the service (decision 0017): the bus sends replies to it. 72
  // random bits in 12 characters: unique among the instances of one service, and short, as
  // every request carries it.
  readonly #instance = randomBytes(9).toString('base64url')
  readonly #registerInterval: number
  readonly #log: Logger
  readonly #mismatch: TokenMismatch
  readonly #report: ((error: ExoRelayError) => void) | undefined
  // The bus refuses this relay's registration for its credential (403): told once.
  #forbidden = false
  #endpoint: Endpoint | undefined
  #port: number | undefined
  #registered = false
  /**
   * Since when (`performance.now()`) registrations fail for an outage: the bus unreachable, or
   * failing. A refusal (401, 403) starts none: the bus is there, so an outage after it still
   * gets its warning, and `drain()` still withdraws.
   */
  #outageSince: number | undefined
  /** The bus refused the last registration (401 or 403): it may not route to this relay. */
  #refused = false
  #registering: Promise<void> | undefined
  #retryTimer: NodeJS.Timeout | undefined
  #reannounce = false
  #draining = false
  #closed = false

  constructor(options: HttpTransportOptions) {
    this.#options = options
    this.#log = options.logger
    this.#register = checkBoolean(options.register, 'register', true)
    this.#registerInterval = checkInteger(
      options.registerInterval,
      'registerInterval',
      1,
      DEFAULT_REGISTER_INTERVAL,
      // A bus refuses a longer one: a dead relay would stay routed for minutes.
      MAX_REGISTER_INTERVAL,
    )
    this.#report =
      options.onError === undefined
        ? undefined
        : checkFunction<(error: ExoRelayError) => void>(options.onError, 'onError')
    this.#mismatch = new TokenMismatch({
      logger: options.logger,
      busRefuses: () => this.#sender.unauthorized,
      busAcceptsNoToken: () => this.#sender.acceptsNoToken(REGISTER_TIMEOUT),
      report: this.#report,
    })
    this.#sender = new UndiciSender({
      exocomHost: options.exocomHost,
      exocomPort: options.exocomPort,
      logger: options.logger,
      token: options.token,
      batches: options.batches,
      batchAfter: options.batchAfter,
      onUnauthorized: this.#mismatch.busRefused,
      instance: this.#instance,
      ...(options.dispatcher && { dispatcher: options.dispatcher }),
    })
    const limits = {
      logger: options.logger,
      token: options.token,
      onTokenCheck: this.#mismatch.tokenChecked,
      status: () => this.#status(),
      batches: options.batches,
      ...(options.bodyLimit !== undefined && { bodyLimit: options.bodyLimit }),
    }
    const app = options.fastify
    this.#app = app
    if (app === undefined) {
      this.#listener = new StandaloneListener({
        host: options.host,
        requestTimeout: options.requestTimeout,
        maxConnections: options.maxConnections,
        ...limits,
      })
    } else {
      claimApp(app)
      app.register(exoRelayRoutes, { receiver: () => this.#endpoint?.receive, ...limits })
    }
  }

  /** Starts the listener (or waits for the app it is mounted in) and registers with the bus. */
  async listen(endpoint: Endpoint): Promise<ListenInfo> {
    let port: number
    if (this.#listener !== undefined) {
      port = await this.#listener
        .listen(endpoint.receive, endpoint.port ?? this.#options.defaultPort)
        .catch((error: unknown) => {
          throw isExoRelayError(error, ErrorCodes.ADDRESS_IN_USE) ? portInUse(error) : error
        })
    } else {
      // The app decides when the port is bound; the relay goes online with it.
      port = await onceListening(this.#app!)
    }
    this.#endpoint = endpoint
    this.#port = port
    // Wait for the first registration attempt, so that once `listen()` resolves the bus
    // routes to this service. A bus that is down does not fail `listen()`: retries go on.
    if (this.#register) await this.#announce()
    return { port }
  }

  /** Sends one message to the bus with the undici sender. */
  send(envelope: OutgoingEnvelope, options: TransportSendOptions): Promise<void> {
    return this.#sender.send(envelope, options)
  }

  handlersChanged(): void {
    if (this.#register) void this.#announce()
  }

  /** Withdraws from the bus, so it stops routing new messages here; replies still arrive. */
  async drain(): Promise<void> {
    if (this.#draining) return
    this.#draining = true
    clearTimeout(this.#retryTimer)
    await this.#registering
    // During an outage the withdrawal would only fail after its timeout, a second report of
    // the outage already logged: a bus that lost this relay drops it after three missed
    // registrations.
    if (this.#registered && this.#outageSince === undefined) {
      this.#registered = false
      await this.#sender
        .deregister(this.#endpoint!.serviceName, { timeout: REGISTER_TIMEOUT })
        .catch((err: unknown) =>
          this.#log.warn(
            { code: (err as { code?: unknown }).code, url: this.#sender.origin },
            `could not withdraw from ExoCom: ${(err as Error).message}`,
          ),
        )
    }
    this.#registered = false
  }

  /** Stops the heartbeat and the listener, and closes the sender's connections. */
  async close(): Promise<void> {
    if (this.#closed) return
    await this.drain()
    this.#closed = true
    await this.#listener?.close()
    this.#endpoint = undefined
    await this.#sender.close()
  }

  /**
   * What the relay last saw of the bus, and whether the bus took its registration. Cheap, no
   * I/O: for readiness checks.
   *
   * @example
   * ```ts
   * if (transport.busStatus().bus === 'unauthorized') console.error('EXOCOM_TOKEN differs')
   * ```
   */
  busStatus(): BusStatus {
    const reachable = this.#sender.reachable
    let bus: BusState
    if (reachable === false) bus = 'unreachable'
    else if (this.#mismatch.active) bus = 'unauthorized'
    else bus = reachable === undefined ? 'unknown' : 'reachable'
    // The last registration failed: the bus may have forgotten this relay.
    return {
      bus,
      registered: this.#registered && this.#outageSince === undefined && !this.#refused,
    }
  }

  /**
   * Readiness for `GET /status`: the relay's `status()`, which holds `busStatus()`; before the
   * relay listens (mounted), what the transport saw of the bus. Cheap.
   */
  #status(): Record<string, unknown> {
    return { ...(this.#endpoint?.status() ?? this.busStatus()) }
  }

  /**
   * Self-registration: tells the bus this service's address and handled names. A bus without
   * the extension (the original ExoCom) answers 404 and gets its routing from `POST /services`;
   * a bus that is not up yet is tried again with backoff, so start order does not matter.
   */
  #announce(delay = REGISTER_RETRY_FIRST): Promise<void> | undefined {
    if (this.#draining || this.#endpoint === undefined) return
    if (this.#registering !== undefined) {
      // Handlers changed while a registration is on its way: send the new list after it.
      this.#reannounce = true
      return this.#registering
    }
    const endpoint = this.#endpoint
    const service: ServiceRegistration = {
      name: endpoint.serviceName,
      // Several instances of a service register under its name; each message goes to one.
      instance: this.#instance,
      host: this.#options.advertisedHost,
      port: this.#port!,
      receives: [...endpoint.handledNames()],
      // The listener takes batches on `POST /run` unless they are turned off.
      ...(this.#options.batches !== false && { batches: true }),
      // The relay turns an `__error` reply into a RemoteHandlerError (core's dispatch).
      errorReplies: true,
      // A `__cancel` aborts the signal of the handler running that request (core's dispatch).
      cancels: true,
      // The bus drops a service that misses three of these: a relay killed never withdraws.
      registerInterval: this.#registerInterval,
    }
    this.#registering = this.#sender.register(service, { timeout: REGISTER_TIMEOUT }).then(
      (result) => {
        this.#registering = undefined
        if (result === 'unsupported') {
          this.#log.info(
            {},
            'ExoCom does not support self-registration; routing comes from its table',
          )
          return
        }
        if (this.#outageSince !== undefined) {
          // The one line that ends an outage's one warning: how long the bus was lost.
          const outage = Math.round(performance.now() - this.#outageSince)
          this.#outageSince = undefined
          this.#log.info(
            { url: this.#sender.origin, outage, instance: this.#instance },
            // "again" only for a relay the bus had taken before: at start it is the first time.
            `registered with ExoCom ${this.#registered ? 'again ' : ''}after ${formatDuration(outage)}`,
          )
        } else if (!this.#registered || this.#refused) {
          // For a refused relay too: its refusal was said at `error`, this says it is over.
          this.#log.info(
            { receives: service.receives, instance: this.#instance },
            'registered with ExoCom',
          )
        }
        this.#registered = true
        this.#refused = false
        this.#forbidden = false
        if (this.#reannounce) {
          this.#reannounce = false
          void this.#announce()
          return
        }
        // Register again from time to time: a bus that restarted has forgotten this service.
        clearTimeout(this.#retryTimer)
        this.#retryTimer = setTimeout(() => this.#announce(), this.#registerInterval).unref()
      },
      (err: unknown) => {
        this.#registering = undefined
        if (this.#draining) return
        const unreachable = isExoRelayError(err, ErrorCodes.BUS_UNREACHABLE)
        const status = (err as { status?: unknown }).status
        this.#refused = status === 401 || status === 403
        if (isExoRelayError(err, ErrorCodes.FORBIDDEN)) {
          // Retrying changes nothing until the bus or the relay is configured anew: said once,
          // loud, with the bus's reason and fix; the retries go on quietly.
          if (!this.#forbidden) {
            this.#forbidden = true
            this.#log.error(
              { code: err.code, status: 403 },
              // The bus's sentence, quoted whole, names the fix (the token, the address).
              `${err.message} The bus does not route to this service until it takes the registration.`,
            )
            this.#report?.(err)
          } else this.#log.debug({ err, retryIn: delay }, 'ExoCom still refuses the registration')
        } else if (status === 401) {
          // The token mismatch said it at `error`, once, with the fix: an expected refusal
          // needs no second line, and no stack.
          this.#log.debug(
            { code: (err as { code?: unknown }).code, status: 401, retryIn: delay },
            'ExoCom still refuses the token; retrying the registration',
          )
        } else if (this.#outageSince === undefined) {
          // One warning per outage, without a stack: the bus being down is no bug of this
          // process. The retries go on quietly; the end of the outage is logged at info.
          this.#log.warn(
            { code: (err as { code?: unknown }).code, url: this.#sender.origin },
            `could not register with ExoCom: ${(err as Error).message} Retrying until it answers.`,
          )
        } else {
          this.#log.debug(
            { code: (err as { code?: unknown }).code, retryIn: delay },
            'ExoCom still does not take the registration; retrying',
          )
        }
        // A refusal starts no outage; one that comes during an outage does not end it either:
        // the relay is still not registered, and its next registration says how long that took.
        if (!this.#refused) this.#outageSince ??= performance.now()
        const next = unreachable ? Math.min(delay * 2, REGISTER_RETRY_MAX) : REGISTER_RETRY_MAX
        clearTimeout(this.#retryTimer)
        this.#retryTimer = setTimeout(() => this.#announce(next), delay).unref()
      },
    )
    return this.#registering
  }
}

/**
 * A port in use, said with what a relay's user can do about it: the listener's sentence names
 * the port and the host; the relay knows where its port comes from.
 */
function portInUse(error: ExoRelayError): ListenError {
  return new ListenError(
    ErrorCodes.ADDRESS_IN_USE,
    `${error.message} Stop the process that holds it, or choose another port (EXORELAY_PORT, the port option or listen(port)), or port 0 for any free one.`,
    { cause: error.cause },
  )
}
