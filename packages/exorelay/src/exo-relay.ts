import type {
  AnyMessages,
  Contract,
  ExoRelayError,
  MessageMap,
  Timers,
  Transport,
} from '@exorelay/core'
import { Relay } from '@exorelay/core'
import { HttpTransport, mountRelay } from '@exorelay/http-transport'
import type { FastifyInstance } from 'fastify'
import type { Dispatcher } from 'undici'
import { type ConfigOptions, resolveConfig } from './config.js'
import { createLogger, type LoggerOption } from './logger.js'
import { natsTransportFromEnv, TransportKinds, transportKind } from './transport-from-env.js'

/**
 * Options of {@link ExoRelay}. Each may come from the environment instead, where a variable is
 * named; options win over the environment. `M` is the message map, inferred from `contract`.
 */
export interface ExoRelayOptions<M = AnyMessages> extends ConfigOptions {
  /** The service's name, sent as `sender`. Env `SERVICE_NAME`. Required. */
  serviceName?: string
  /**
   * ExoCom's host. Env `EXOCOM_HOST`.
   * @default `'localhost'`
   */
  exocomHost?: string
  /** ExoCom's port. Env `EXOCOM_PORT`. Required unless `transport` is given or `EXORELAY_TRANSPORT=nats`. */
  exocomPort?: number | string
  /**
   * The port the relay listens on. Env `EXORELAY_PORT`. `0` picks a free port.
   * @default `4000`
   */
  port?: number | string
  /**
   * The address the listener binds. Env `EXORELAY_HOST`. Containers set `'0.0.0.0'`.
   * @default `'127.0.0.1'`
   */
  host?: string
  /**
   * The host the bus should deliver to, announced by self-registration. Env `EXORELAY_ADVERTISED_HOST`.
   * @default `host`, or `'localhost'` for a wildcard `host`
   */
  advertisedHost?: string
  /**
   * The reply timeout of `send` in milliseconds, for sends that give none.
   * @default `10_000`
   */
  timeout?: number
  /**
   * A pino logger, pino options, or `false` for silence. Env `LOG_LEVEL` sets the default's
   * level, `LOG_FORMAT` (`pretty` or `json`) its format.
   * @default pino at `info`, pretty on a terminal
   */
  logger?: LoggerOption
  /**
   * Serve the relay from this Fastify app instead of a server of its own: the app's port is
   * the relay's. The relay goes online when the app listens and closes when the app closes.
   * Create the relay before `app.listen()`. `app.register(exorelayPlugin, options)` does the
   * same the Fastify way, and decorates the app with the relay as `app.exorelay`.
   */
  fastify?: FastifyInstance
  /**
   * Largest message body the listener accepts, in bytes.
   * @default `1_048_576` (1 MiB)
   */
  bodyLimit?: number
  /**
   * Milliseconds a client may take to send one whole request to the relay's listener, headers
   * and body; a client that stalls halfway (slowloris) gets 408 and its connection is closed.
   * `0` disables it. Not applied with `fastify` (mounted): the app's server
   * owns its timeouts, so set Fastify's `requestTimeout` there.
   * @default `10_000`
   */
  requestTimeout?: number
  /**
   * Connections the relay's listener keeps open at once; each one beyond it is closed as soon
   * as it is accepted, without an answer, so a flood of connections cannot take the process's
   * file descriptors (the bus opens at most 64 per receiver). A positive integer. Not
   * applied with `fastify` (mounted): the app's server owns its connections, so
   * set `app.server.maxConnections` there.
   * @default `1_024`
   */
  maxConnections?: number
  /**
   * Register with the bus when online and withdraw on close (an extension of `@exorelay/exocom`; harmless elsewhere).
   * @default `true`
   */
  register?: boolean
  /**
   * An undici dispatcher for the requests to ExoCom (tests, proxies).
   * @default its own keep-alive undici `Pool`
   */
  dispatcher?: Dispatcher
  /**
   * Another transport instead of HTTP (e.g. `new MemoryBus().transport()` in tests, or
   * `natsTransport(…)`). Without it, env `EXORELAY_TRANSPORT=nats` (with `NATS_URL`, and
   * `NATS_TOKEN` when the server wants one) selects NATS; `@exorelay/nats-transport` must be
   * installed then, and is loaded on the first `listen()` or `send()`.
   * @default HTTP, or NATS with `EXORELAY_TRANSPORT=nats`
   */
  transport?: Transport
  /**
   * Timer functions for reply deadlines (tests).
   * @default Node's, unref'd
   */
  timers?: Timers
  /**
   * Shared secret. Env `EXOCOM_TOKEN`. When set, every request to the bus carries it as a
   * bearer token and the listener refuses requests without it (401). Never logged.
   */
  token?: string
  /**
   * Handlers running at once; more wait in a queue.
   * @default `100`
   */
  concurrency?: number
  /**
   * Messages waiting for a handler slot; beyond it the relay answers 503 at once.
   * @default `1_000`
   */
  maxQueued?: number
  /**
   * Milliseconds `close()` lets running handlers finish.
   * @default `10_000`
   */
  closeTimeout?: number
  /**
   * Where the stack of whatever a send rejects with (a timeout, no receiver, a remote
   * handler's failure) points: `'await'`, at the code awaiting the send, with no stack captured
   * per send (V8's async stack traces; `.then()`, callback and `envelope()` code keep the
   * error's own stack); `true`, at the
   * `send(…)` line for every style, captured on every send (1.5 to 4 µs); `false`, nowhere.
   * @default `'await'`
   */
  stackTraces?: boolean | 'await'
  /**
   * Milliseconds between self-registrations while online, so a restarted bus relearns the service.
   * @default `5_000`
   */
  registerInterval?: number
  /**
   * The batch extension (decision 0011): the relay offers the bus batches (several messages
   * in one `POST /run`) in its registration and accepts them, and sends batches on
   * `POST /send` to a bus that offers them, once `batchAfter` requests are under way. A quiet
   * service sends exactly as without it. `false` turns it off both ways.
   * @default `true`
   */
  batches?: boolean
  /**
   * Requests to the bus under way before further messages wait and leave as one batch.
   * @default `2`
   */
  batchAfter?: number
  /**
   * The message contract (`defineContract`): types the relay without a type argument (what it
   * sends by the schemas' input, what it receives by their output), and
   * validates, for the names it lists, each incoming payload before its handler runs (refused
   * with `EXORELAY_ERR_PAYLOAD_INVALID`) and each reply before the send resolves
   * (`EXORELAY_ERR_REPLY_INVALID`). Without it nothing is validated.
   */
  contract?: Contract<M>
  /**
   * Also validate what the relay sends against the contract, before it leaves: an invalid
   * payload or reply rejects the send and sends nothing; a valid one leaves as written (the
   * receiver's validator applies defaults and transforms). One validation per message sent.
   * Read once, when the relay is created.
   * @default `true`, or `false` with `NODE_ENV=production`
   */
  validateOutgoing?: boolean
}

/**
 * The relay a service embeds: it receives messages from ExoCom, runs their handlers, and sends
 * messages with fire-and-forget, callback or `await` semantics. It emits `online`, `offline`
 * and, when someone listens for it, `error`: a failed `listen()`, or a token mismatch with the
 * bus (code `EXORELAY_ERR_AUTH_UNAUTHORIZED`, once per mismatch; `status().bus` is then
 * `'unauthorized'`), or a registration the bus refuses for the relay's credential (code
 * `EXORELAY_ERR_AUTH_FORBIDDEN`, once until it is taken; `status().registered` is `false`).
 *
 * @example
 * ```ts
 * const relay = new ExoRelay({ serviceName: 'users', exocomPort: 3100 })
 * relay.registerHandler('users.create', async (user, { reply, send }) => {
 *   const hash = await send('passwords.encrypt', user.password)
 *   reply('users.created', { id: 456, name: user.name })
 * })
 * await relay.listen()
 * ```
 */
export class ExoRelay<M extends MessageMap<M> = AnyMessages> extends Relay<M> {
  readonly #defaultPort: number

  constructor(options: ExoRelayOptions<M> = {}) {
    const env = options.env ?? process.env
    const kind = options.transport === undefined ? transportKind(env) : undefined
    const config = resolveConfig(options, kind === TransportKinds.HTTP)
    const logger = createLogger(options.logger, config.serviceName)
    // Called only once the relay is online, long after the constructor ran.
    const onError = (error: ExoRelayError): void => this.#transportError(error)
    const transport =
      options.transport ??
      (kind === TransportKinds.NATS ? natsTransportFromEnv(env, logger) : undefined) ??
      new HttpTransport({
        exocomHost: config.exocomHost,
        exocomPort: config.exocomPort!,
        defaultPort: config.port,
        host: config.host,
        advertisedHost: config.advertisedHost,
        fastify: options.fastify,
        bodyLimit: options.bodyLimit,
        requestTimeout: options.requestTimeout,
        maxConnections: options.maxConnections,
        register: options.register,
        dispatcher: options.dispatcher,
        token: config.token,
        registerInterval: options.registerInterval,
        batches: options.batches,
        batchAfter: options.batchAfter,
        logger,
        onError,
      })
    super({
      serviceName: config.serviceName,
      transport,
      logger,
      timeout: config.timeout,
      timers: options.timers,
      concurrency: options.concurrency,
      maxQueued: options.maxQueued,
      closeTimeout: options.closeTimeout,
      stackTraces: options.stackTraces,
      contract: options.contract,
      validateOutgoing: options.validateOutgoing,
    })
    this.#defaultPort = config.port
    const app = options.fastify
    // Mounted, the app decides when the relay goes online, also with another transport, from
    // the environment (NATS) or the options (then the app serves no relay routes: messages
    // come through that transport).
    if (app !== undefined) mountRelay(app, this)
  }

  /**
   * Starts receiving; resolves with the bound port and emits `online`. Without a port, the
   * `port` option, `EXORELAY_PORT`, or 4000. A port in use rejects with a `ListenError` coded
   * `EXORELAY_ERR_LISTEN_ADDRESS_IN_USE` (and emits `error` when someone listens for it).
   */
  override listen(port?: number | string): Promise<number> {
    return super.listen(port ?? this.#defaultPort)
  }

  /** A problem the transport noticed outside any call: logged there, emitted here if heard. */
  #transportError(error: ExoRelayError): void {
    if (this.listenerCount('error') > 0) this.emit('error', error)
  }
}
