import type {
  BusState,
  BusStatus,
  Endpoint,
  ListenInfo,
  Logger,
  OutgoingEnvelope,
  Receipt,
  ReceivedMessage,
  Transport,
  TransportSendOptions,
} from '@exorelay/core'
import {
  ClosedError,
  ErrorCodes,
  ListenError,
  silentLogger,
  TimeoutError,
  TransportError,
} from '@exorelay/core'
import { CANCEL, formatDuration, invalidOption, noReceiverError } from '@exorelay/core/internal'
import {
  ClosedConnectionError,
  ConnectionError,
  connect,
  createInbox,
  DrainingConnectionError,
  type Msg,
  type NatsConnection,
  InvalidArgumentError as NatsInvalidArgumentError,
  TimeoutError as NatsTimeoutError,
  type NodeConnectionOptions,
  type PublishOptions,
  type Subscription,
} from '@nats-io/transport-node'
import { RequestTable } from './request-table.js'
import {
  cancelSubject,
  checkSubjectPrefix,
  DEFAULT_SUBJECT_PREFIX,
  decodeName,
  encodeName,
  encodeSubject,
} from './subject.js'
import {
  encodeBody,
  fromNatsMessage,
  isNoResponders,
  MessageHeaders,
  outcomeOf,
  publishHeaders,
  type ReplyRoute,
  type RouteHeader,
  replyPublication,
  replyRouteOf,
} from './wire.js'

/** Options of {@link natsTransport}. */
export interface NatsTransportOptions {
  /**
   * The NATS server(s) to connect to: `'nats://127.0.0.1:4222'`, `'host:4222'`, or a list.
   * Other nodes of a cluster are learnt from the server.
   */
  servers: string | string[]
  /**
   * The connection's name in the server's monitoring.
   * @default the service's name
   */
  name?: string | undefined
  /** A token for NATS token authentication. Never logged. */
  token?: string | undefined
  /**
   * The first token(s) of every message subject.
   * @default `'exorelay'`
   */
  subjectPrefix?: string | undefined
  /**
   * A pino-compatible logger.
   * @default silent
   */
  logger?: Logger | undefined
  /**
   * Further nats.js connection options (TLS, `user`/`pass`, an `authenticator`, reconnect
   * timing, `inboxPrefix`). They win over this transport's defaults: reconnect for ever
   * (`maxReconnectAttempts: -1`), 2 s between attempts.
   */
  connectOptions?: Omit<NodeConnectionOptions, 'servers' | 'name' | 'token'> | undefined
}

/** How long unsubscribing (`drain()`) and flushing on `close()` may take each while the server does not answer. */
const DRAIN_TIMEOUT = 5_000
/** Backoff between first-connection attempts while listening: 100 ms doubling to 5 s, as over HTTP. */
const CONNECT_RETRY_FIRST = 100
const CONNECT_RETRY_MAX = 5_000
const MAX_TIMER_DELAY = 2_147_483_647
const RESOLVED = Promise.resolve()
/** What to do when the server cannot be reached: the two likely causes. */
const UNREACHABLE_FIX =
  'Start the NATS server (nats-server), or point the relay at where it runs (NATS_URL, the servers option).'

/**
 * ExoRelay over NATS: each message name is a subject (`exorelay.users.create`), each service
 * a queue group on it, so every service that handles a name gets each message once and its
 * instances share the load. Replies go straight to the requesting connection's inbox.
 * `send` resolves once the NATS server has taken the message and found a subscriber for it;
 * a message nobody subscribes to rejects with `EXORELAY_ERR_TRANSPORT_NO_RECEIVER` at once.
 *
 * @example
 * ```ts
 * import { ExoRelay } from 'exorelay'
 * import { natsTransport } from '@exorelay/nats-transport'
 *
 * const relay = new ExoRelay({
 *   serviceName: 'users',
 *   transport: natsTransport({ servers: 'nats://127.0.0.1:4222' }),
 * })
 * relay.registerHandler('users.create', (user, { reply }) => reply('users.created', user))
 * await relay.listen()
 * ```
 */
export function natsTransport(options: NatsTransportOptions): Transport {
  return new NatsTransport(options)
}

class NatsTransport implements Transport {
  readonly #options: NatsTransportOptions
  readonly #servers: string[]
  /** The servers as log lines name them, in their `url` field. */
  readonly #url: string
  readonly #prefix: string
  readonly #log: Logger
  /**
   * This connection's private subjects: replies arrive on `<inbox>.r.<escaped outcome>`, the server's "no
   * responders" notices on `<inbox>.p.<n>` (sends that wait for the flush) and
   * `<inbox>.a.<escaped id>` (requests whose relay waits for a reply).
   */
  readonly #inbox: string
  /**
   * Sent requests whose relay waits for a reply: how to fail them if nobody receives them, and
   * the name their cancellation is addressed by.
   */
  readonly #awaiting = new RequestTable<Awaiting>({ onDrop: settle })
  /** The route header of every request: replies come to this connection's inbox. */
  readonly #replyTo: RouteHeader
  /** Publications waiting for their flush, by probe key: `true` once the server said nobody subscribes. */
  readonly #probes = new Map<string, boolean>()
  /** By subject: a message name's, and the name's cancellation subject. */
  readonly #subscriptions = new Map<string, Subscription>()
  #probeSequence = 0
  /** The flush that will cover every publication of the current tick, once issued. */
  #nextFlush: Promise<void> | undefined
  #nc: NatsConnection | undefined
  #connecting: Promise<NatsConnection> | undefined
  #connected = false
  /** Since when (`performance.now()`) the first connection fails while listening. */
  #failingSince: number | undefined
  #retryTimer: NodeJS.Timeout | undefined
  #endpoint: Endpoint | undefined
  #queue = ''
  #draining = false
  #closed = false
  #closing: Promise<void> | undefined

  constructor(options: NatsTransportOptions) {
    const servers = options?.servers
    const list = typeof servers === 'string' ? [servers] : servers
    if (
      !Array.isArray(list) ||
      list.length === 0 ||
      !list.every((server) => typeof server === 'string' && server.trim() !== '')
    ) {
      throw invalidOption('servers', 'a NATS server URL or a non-empty list of them', servers)
    }
    this.#options = options
    this.#servers = list.map((server) => server.trim())
    this.#url = this.#servers.join(', ')
    this.#prefix = checkSubjectPrefix(options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX)
    this.#log = (options.logger ?? silentLogger).child({ transport: 'nats' })
    this.#inbox = createInbox(options.connectOptions?.inboxPrefix)
    this.#replyTo = [MessageHeaders.REPLY_TO, `${this.#inbox}.r`]
  }

  async listen(endpoint: Endpoint): Promise<ListenInfo> {
    if (this.#closed || this.#draining) {
      throw new ListenError(ErrorCodes.LISTEN_FAILED, 'This NATS transport is closed.')
    }
    this.#endpoint = endpoint
    this.#queue = encodeName(endpoint.serviceName)
    try {
      const nc = await this.#connection(endpoint.serviceName)
      // A connection made now subscribed already; one a one-way send made before listen()
      // did not (it had no endpoint): subscribing is idempotent, so do it here either way.
      for (const name of endpoint.handledNames()) this.#subscribeName(nc, name)
      // Once the server answered the flush it has every subscription: messages can arrive.
      await nc.flush()
    } catch (cause) {
      if (cause instanceof ListenError) throw cause
      if (!this.#closed && isUnreachable(cause)) {
        // Start order does not matter, as over HTTP: `listen()` resolves and the transport
        // keeps trying, with one warning for the outage and one info line once connected.
        this.#connectionFailed(endpoint.serviceName, cause, CONNECT_RETRY_FIRST)
        return { port: 0 }
      }
      this.#endpoint = undefined
      throw new ListenError(
        ErrorCodes.LISTEN_FAILED,
        `Could not listen on NATS at ${this.#describeServers()}: ${errorMessage(cause)}`,
        { cause },
      )
    }
    this.#log.debug({ subjects: this.#subscriptions.size, queue: this.#queue }, 'subscribed')
    return { port: 0 }
  }

  send(envelope: OutgoingEnvelope, options: TransportSendOptions): Promise<void> {
    if (this.#closed) {
      return Promise.reject(
        new ClosedError(
          ErrorCodes.CLOSED,
          `The NATS transport is closed: cannot send '${envelope.name}'.`,
        ),
      )
    }
    if (options.signal?.aborted) return Promise.reject(options.signal.reason)
    const nc = this.#nc
    if (nc !== undefined && this.#connected) {
      if (envelope.responseTo !== undefined) {
        // Where the request came from, noted by #deliver and handed back by the relay.
        const route = options.replyRoute as ReplyRoute | undefined
        if (route !== undefined) {
          try {
            this.#publishReply(nc, route, envelope)
          } catch (error) {
            return Promise.reject(error)
          }
          return RESOLVED
        }
      } else if (options.awaitsReply === true) {
        return this.#publishRequest(
          nc,
          envelope,
          encodeSubject(envelope.name, this.#prefix),
          options.timeout,
        )
      }
    }
    return this.#send(envelope, options)
  }

  /**
   * What the transport last saw of NATS: `reachable` while connected, `unreachable` while the
   * first connection is being made again or the client reconnects, `unknown` before any
   * attempt; `registered` while the server holds the relay's subscriptions. Cheap, no I/O.
   */
  busStatus(): BusStatus {
    let bus: BusState
    if (this.#connected) bus = 'reachable'
    else
      bus = this.#nc === undefined && this.#failingSince === undefined ? 'unknown' : 'unreachable'
    return { bus, registered: this.#connected && this.#endpoint !== undefined && !this.#draining }
  }

  handlersChanged(): void {
    const nc = this.#nc
    if (nc === undefined || this.#endpoint === undefined || this.#draining) return
    for (const name of this.#endpoint.handledNames()) this.#subscribeName(nc, name)
  }

  /**
   * Unsubscribes from the message subjects, so no new messages arrive; those the server has
   * already sent are still handed to the relay. The inbox stays: replies still arrive.
   */
  async drain(): Promise<void> {
    if (this.#draining) return
    this.#draining = true
    clearTimeout(this.#retryTimer)
    const subscriptions = [...this.#subscriptions.values()]
    this.#subscriptions.clear()
    if (subscriptions.length === 0) return
    if (!this.#connected) {
      // Nothing can arrive while disconnected, and a drain would wait for the reconnect.
      for (const subscription of subscriptions) subscription.unsubscribe()
      return
    }
    const drained = Promise.allSettled(subscriptions.map((subscription) => subscription.drain()))
    if (!(await withinDeadline(drained, DRAIN_TIMEOUT))) {
      this.#log.warn(
        { subjects: subscriptions.length },
        'NATS did not confirm the unsubscriptions in time',
      )
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.drain()
      this.#closed = true
      this.#endpoint = undefined
      // The relay has failed its waits by now; the entries only hold their promises.
      this.#awaiting.clear()
      const nc = this.#nc ?? (await this.#connecting?.catch(() => undefined))
      if (nc === undefined || nc.isClosed()) return
      if (this.#connected) {
        // Draining the connection flushes what is still buffered (the last replies) first;
        // a server that stopped answering meanwhile gets no more than the drain timeout.
        const drained = nc.drain().then(
          () => true,
          () => false,
        )
        if (!(await withinDeadline(drained, DRAIN_TIMEOUT)) || !(await drained)) await nc.close()
      } else {
        // Disconnected: there is nothing to flush to, and no reconnect is wanted any more.
        await nc.close()
      }
    })()
    return this.#closing
  }

  #connection(serviceName: string): Promise<NatsConnection> {
    if (this.#nc !== undefined) return Promise.resolve(this.#nc)
    this.#connecting ??= this.#connect(serviceName).catch((error: unknown) => {
      // A later listen or send tries again.
      this.#connecting = undefined
      throw error
    })
    return this.#connecting
  }

  async #connect(serviceName: string): Promise<NatsConnection> {
    const { name, token, connectOptions } = this.#options
    const nc = await connect({
      maxReconnectAttempts: -1,
      ...connectOptions,
      servers: this.#servers,
      name: name ?? serviceName,
      ...(token !== undefined && { token }),
    })
    if (this.#closed) {
      await nc.close()
      throw new ClosedError(ErrorCodes.CLOSED, 'The NATS transport was closed while connecting.')
    }
    nc.subscribe(`${this.#inbox}.>`, { callback: this.#onInbox })
    this.#nc = nc
    this.#connected = true
    clearTimeout(this.#retryTimer)
    if (this.#failingSince === undefined) {
      this.#log.info({ server: nc.getServer() }, 'connected to NATS')
    } else {
      const outage = performance.now() - this.#failingSince
      this.#failingSince = undefined
      this.#log.info(
        { url: this.#url, server: nc.getServer(), outage: Math.round(outage) },
        `connected to NATS after ${formatDuration(outage)}`,
      )
    }
    // Made by a listen, a retry or a send: the relay's names are subscribed to either way.
    const endpoint = this.#endpoint
    if (endpoint !== undefined && !this.#draining) {
      for (const name of endpoint.handledNames()) this.#subscribeName(nc, name)
    }
    void this.#watch(nc)
    return nc
  }

  /**
   * The first connection could not be made while the relay listens: said once, at `warn`,
   * without a stack; tried again with backoff (100 ms doubling to 5 s) until it is made, by a
   * retry or by a send, or the transport closes.
   */
  #connectionFailed(serviceName: string, cause: unknown, delay: number): void {
    if (this.#closed || this.#draining || this.#nc !== undefined) return
    if (this.#failingSince === undefined) {
      this.#failingSince = performance.now()
      this.#log.warn(
        { code: ErrorCodes.BUS_UNREACHABLE, url: this.#url },
        `could not connect to NATS at ${this.#describeServers()}: ${errorMessage(cause)}. Listening anyway, and connecting again until it answers: is nats-server running there, and is NATS_URL right?`,
      )
    } else {
      this.#log.debug(
        { err: errorMessage(cause), retryIn: delay },
        'NATS still unreachable; retrying',
      )
    }
    clearTimeout(this.#retryTimer)
    this.#retryTimer = setTimeout(() => {
      this.#connection(serviceName).then(
        () => undefined,
        (error: unknown) => {
          // close() came while this attempt was on its way: its ClosedError is no refusal.
          if (this.#closed) return
          if (isUnreachable(error)) {
            this.#connectionFailed(serviceName, error, Math.min(delay * 2, CONNECT_RETRY_MAX))
          } else {
            this.#log.error(
              { code: ErrorCodes.LISTEN_FAILED },
              `NATS refused the connection: ${errorMessage(error)}. The relay receives nothing until it is configured anew.`,
            )
          }
        },
      )
      // Not unref'd: a listening relay keeps its process alive, connected or not, as its
      // connection does once made; `close()` clears it.
    }, delay)
  }

  /** Logs the connection's life: the client reconnects by itself, sends fail fast meanwhile. */
  async #watch(nc: NatsConnection): Promise<void> {
    // One warning when the connection drops, one info line with the outage's length when it
    // is back: the attempts between are the client's, and silent.
    let disconnectedAt = 0
    for await (const status of nc.status()) {
      switch (status.type) {
        case 'disconnect':
          this.#connected = false
          disconnectedAt = performance.now()
          this.#log.warn(
            { code: ErrorCodes.BUS_UNREACHABLE, url: this.#url, server: status.server },
            'disconnected from NATS; reconnecting',
          )
          break
        case 'reconnect':
          this.#connected = true
          // The subscriptions were sent again before this; once the flush returns the server
          // routes to them, so "reconnected" means messages flow again.
          nc.flush().then(
            () => {
              const outage = performance.now() - disconnectedAt
              this.#log.info(
                { url: this.#url, server: status.server, outage: Math.round(outage) },
                `reconnected to NATS after ${formatDuration(outage)}`,
              )
            },
            () => undefined,
          )
          break
        case 'ldm':
          this.#log.warn({ server: status.server }, 'NATS server entering lame duck mode')
          break
        case 'error':
          this.#log.error({ err: status.error }, 'NATS reported an error')
          break
        case 'slowConsumer':
          this.#log.warn({ subject: status.sub.getSubject() }, 'slow consumer: NATS drops messages')
          break
        default:
          this.#log.debug({ status: status.type }, 'NATS status')
      }
    }
    this.#connected = false
    const error = await nc.closed()
    if (!this.#closed) {
      this.#log.error({ err: error }, 'NATS connection closed; no more reconnects')
    }
  }

  /**
   * Subscribes to a message name in the service's queue group, so one instance gets each
   * message, and to the name's cancellations outside it: only the instance running a request
   * can act on its cancellation, and nobody tracks which one that is.
   */
  #subscribeName(nc: NatsConnection, name: string): void {
    this.#subscribe(nc, encodeSubject(name, this.#prefix), name, this.#queue)
    this.#subscribe(nc, cancelSubject(name, this.#prefix), CANCEL, undefined)
  }

  /** Subscribes to `subject`, whose messages reach the relay as `name`s. */
  #subscribe(nc: NatsConnection, subject: string, name: string, queue: string | undefined): void {
    if (this.#subscriptions.has(subject)) return
    const subscription = nc.subscribe(subject, {
      ...(queue !== undefined && { queue }),
      callback: (error, msg) => {
        if (error !== null) {
          this.#log.error({ err: error, messageName: name, subject }, 'subscription failed')
          return
        }
        this.#deliver(name, msg, false)
      },
    })
    this.#subscriptions.set(subject, subscription)
  }

  readonly #onInbox = (error: Error | null, msg: Msg): void => {
    if (error !== null) {
      this.#log.error({ err: error }, 'inbox subscription failed')
      return
    }
    const token = msg.subject.slice(this.#inbox.length + 1)
    if (token.startsWith('p.')) {
      // The server's "no responders" notice for a publication: an empty 503 status message.
      const key = token.slice(2)
      if (isNoResponders(msg) && this.#probes.has(key)) this.#probes.set(key, true)
      return
    }
    if (token.startsWith('a.')) {
      const id = decodeName(token.slice(2))
      const awaiting = id === undefined ? undefined : this.#awaiting.take(id)
      if (awaiting !== undefined && isNoResponders(msg)) {
        awaiting.reject(this.#noReceiver(awaiting.name, awaiting.subject))
      } else if (awaiting !== undefined) {
        awaiting.resolve()
      }
      return
    }
    let name: string
    try {
      name = outcomeOf(token, msg.subject)
    } catch (err) {
      this.#log.warn({ err, subject: msg.subject }, 'malformed reply dropped')
      return
    }
    this.#deliver(name, msg, true)
  }

  #deliver(name: string, msg: Msg, onInbox: boolean): void {
    const endpoint = this.#endpoint
    if (endpoint === undefined) {
      this.#log.debug({ messageName: name }, 'not listening: message dropped')
      return
    }
    let message: ReceivedMessage
    try {
      message = fromNatsMessage(name, msg)
    } catch (err) {
      this.#log.warn({ err, messageName: name, subject: msg.subject }, 'malformed message dropped')
      return
    }
    let replyTo: ReplyRoute | undefined
    if (message.responseTo === undefined) {
      // fromNatsMessage has read the headers: this read cannot fail.
      replyTo = replyRouteOf(msg)
    } else if (onInbox) {
      // A reply proves its request was received: nothing more to wait for.
      this.#awaiting.take(message.responseTo)?.resolve()
    }
    const receipt = endpoint.receive(message, replyTo)
    if (receipt.status !== 'accepted') this.#logReceipt(message, receipt, onInbox)
  }

  /** There is no status code to answer on NATS: what the relay did not accept is logged. */
  #logReceipt(
    message: ReceivedMessage,
    receipt: Exclude<Receipt, { status: 'accepted' }>,
    onInbox: boolean,
  ): void {
    const fields = {
      err: receipt.error,
      messageName: message.name,
      messageId: message.id,
      responseTo: message.responseTo,
    }
    if (receipt.status === 'failed') {
      // The relay has logged the failure and answered the requester with an error reply.
      this.#log.debug(fields, 'handler failed')
    } else if (receipt.status === 'unknown' && onInbox) {
      // A reply after its waiter ended (its deadline passed, or end() was called).
      this.#log.debug(fields, 'late reply dropped')
    } else {
      this.#log.warn(fields, `message not accepted: ${receipt.status}`)
    }
  }

  async #send(
    envelope: OutgoingEnvelope,
    { timeout, signal, awaitsReply }: TransportSendOptions,
  ): Promise<void> {
    const { name } = envelope
    // Replies with a route went out in send(); a reply whose requester is unknown here
    // travels by name, as ExoCom routes replies.
    const subject = this.#subjectOf(envelope)
    const nc = this.#nc ?? (await this.#connectForSend(envelope, timeout, signal))
    if (!this.#connected) {
      throw new TransportError(
        ErrorCodes.BUS_UNREACHABLE,
        `Not connected to NATS at ${this.#describeServers()}: '${name}' was not sent. ${UNREACHABLE_FIX}`,
      )
    }
    // A request sent while the first connection was being made goes as every other request,
    // so that it is remembered: its cancellation needs its name.
    if (awaitsReply === true && envelope.responseTo === undefined) {
      return this.#publishRequest(nc, envelope, subject, timeout)
    }
    const key = (this.#probeSequence++).toString(36)
    this.#probes.set(key, false)
    try {
      this.#publish(
        nc,
        envelope,
        subject,
        envelope.responseTo === undefined ? this.#replyTo : undefined,
        `${this.#inbox}.p.${key}`,
      )
      // The server answers a flush after every message sent before it, and sends its "no
      // responders" notice for a message before that answer: once the flush returns, both
      // "the server has it" and "somebody subscribes to it" are known.
      await bounded(this.#flush(nc), name, timeout, signal).catch((error: unknown) => {
        throw this.#flushError(error, name, signal)
      })
      if (this.#probes.get(key) === true) {
        throw this.#noReceiver(name, subject)
      }
    } finally {
      this.#probes.delete(key)
    }
  }

  /**
   * A request whose relay waits for its reply needs no flush round trip: the relay's own
   * deadline and signal cover it, and the promise only has to reject should the server say
   * that nobody subscribes. The server sends that notice to the request's NATS reply subject,
   * which names the request; the entry ends with the first reply, the notice, its
   * cancellation, or the request's deadline (plus a grace), whichever comes first, and
   * `close()`.
   */
  #publishRequest(
    nc: NatsConnection,
    envelope: OutgoingEnvelope,
    subject: string,
    timeout: number,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      try {
        this.#publish(
          nc,
          envelope,
          subject,
          this.#replyTo,
          `${this.#inbox}.a.${encodeName(envelope.id)}`,
        )
      } catch (error) {
        reject(error)
        return
      }
      this.#awaiting.remember(
        envelope.id,
        { name: envelope.name, subject, resolve, reject },
        timeout,
      )
    })
  }

  /**
   * A reply to a request that came through NATS goes straight to its requester's inbox and is
   * done once the connection has it, as `msg.respond()` is: no flush round trip and no
   * "no responders" probe. Nobody but the requester can receive it, a requester that stopped
   * waiting drops it anyway, and one whose connection died learns of it by its own deadline.
   */
  #publishReply(nc: NatsConnection, route: ReplyRoute, envelope: OutgoingEnvelope): void {
    const { subject, header } = replyPublication(route, envelope.name)
    this.#publish(nc, envelope, subject, header, undefined)
  }

  /**
   * Hands one message to the connection, with its route header and the envelope's own;
   * what nats.js refuses (a header value with a line break, a message over `max_payload`) is
   * thrown as a coded error.
   */
  #publish(
    nc: NatsConnection,
    envelope: OutgoingEnvelope,
    subject: string,
    route: RouteHeader | undefined,
    reply: string | undefined,
  ): void {
    const body = encodeBody(envelope)
    const options: PublishOptions = {}
    if (reply !== undefined) options.reply = reply
    try {
      const headers = publishHeaders(envelope, route)
      if (headers !== undefined) options.headers = headers
      nc.publish(subject, body, options)
    } catch (error) {
      throw this.#publishError(error, envelope, body)
    }
  }

  /**
   * The subject `envelope` goes to: its name's; for a cancellation, the cancellation subject of
   * the name of the request it cancels, which only this transport's entry for the request
   * knows (the relay sends its id alone). The entry goes: its requester no longer waits.
   */
  #subjectOf(envelope: OutgoingEnvelope): string {
    if (envelope.name !== CANCEL) return encodeSubject(envelope.name, this.#prefix)
    const { responseTo } = envelope
    const request = responseTo === undefined ? undefined : this.#awaiting.take(responseTo)
    if (request === undefined) {
      throw new TransportError(
        ErrorCodes.NO_RECEIVER,
        `The cancellation of request '${responseTo}' has nowhere to go: this NATS transport did not send that request, or no longer waits for its reply.`,
      )
    }
    request.resolve()
    return cancelSubject(request.name, this.#prefix)
  }

  /**
   * One flush for all publications of a tick: a PING sent after the last of them is answered
   * after every one, so 100 concurrent sends cost one round trip, not 100.
   */
  #flush(nc: NatsConnection): Promise<void> {
    this.#nextFlush ??= Promise.resolve().then(() => {
      this.#nextFlush = undefined
      return nc.flush()
    })
    return this.#nextFlush
  }

  async #connectForSend(
    envelope: OutgoingEnvelope,
    timeout: number,
    signal: AbortSignal | undefined,
  ): Promise<NatsConnection> {
    try {
      return await bounded(this.#connection(envelope.sender), envelope.name, timeout, signal)
    } catch (error) {
      if (error instanceof TimeoutError || error instanceof ClosedError) throw error
      if (signal?.aborted && error === signal.reason) throw error
      throw new TransportError(
        ErrorCodes.BUS_UNREACHABLE,
        `Could not connect to NATS at ${this.#describeServers()} to send '${envelope.name}': ${errorMessage(error)}. ${UNREACHABLE_FIX}`,
        { cause: error },
      )
    }
  }

  #publishError(error: unknown, envelope: OutgoingEnvelope, body: string): Error {
    if (error instanceof ClosedConnectionError || error instanceof DrainingConnectionError) {
      return this.#closed
        ? new ClosedError(
            ErrorCodes.CLOSED,
            `The NATS transport is closed: cannot send '${envelope.name}'.`,
          )
        : new TransportError(
            ErrorCodes.BUS_UNREACHABLE,
            `The NATS connection is closed: '${envelope.name}' was not sent.`,
            { cause: error },
          )
    }
    if (error instanceof NatsInvalidArgumentError && /max_payload/.test(error.message)) {
      return new TransportError(
        ErrorCodes.BUS_REFUSED,
        `The message '${envelope.name}' (${Buffer.byteLength(body)} bytes of JSON) exceeds the NATS server's max_payload of ${this.#nc?.info?.max_payload} bytes.`,
        { cause: error },
      )
    }
    return new TransportError(
      ErrorCodes.BUS_REFUSED,
      `NATS refused the message '${envelope.name}': ${errorMessage(error)}`,
      { cause: error },
    )
  }

  #flushError(error: unknown, name: string, signal: AbortSignal | undefined): unknown {
    // The deadline and the caller's abort pass as they are: the relay reports them.
    if (error instanceof TimeoutError || (signal?.aborted && error === signal.reason)) return error
    if (error instanceof ClosedConnectionError && this.#closed) {
      return new ClosedError(
        ErrorCodes.CLOSED,
        `The NATS transport closed while sending '${name}'.`,
      )
    }
    // The connection dropped after the message was written: it may or may not have arrived,
    // so it is reported, never sent again.
    return new TransportError(
      ErrorCodes.BUS_UNREACHABLE,
      `The connection to NATS dropped before the server confirmed '${name}'; it may or may not have arrived.`,
      { cause: error },
    )
  }

  /** The NATS server's "no responders": nothing subscribes to the message's subject. */
  #noReceiver(name: string, subject: string): TransportError {
    return noReceiverError(
      name,
      'A relay subscribes to the subjects of its handlers once its listen() has resolved',
      { answer: `nothing subscribes to '${subject}'` },
    )
  }

  #describeServers(): string {
    return this.#servers.map((server) => `'${server}'`).join(', ')
  }
}

/** A sent request whose relay waits for a reply. */
interface Awaiting {
  readonly name: string
  readonly subject: string
  resolve(): void
  reject(error: Error): void
}

function settle(awaiting: Awaiting): void {
  awaiting.resolve()
}

/**
 * Waits for `promise` no longer than `timeout` and until `signal` aborts. The abort rejects
 * with the signal's own reason: the relay recognises it and reports an abort.
 */
function bounded<T>(
  promise: Promise<T>,
  name: string,
  timeout: number,
  signal: AbortSignal | undefined,
): Promise<T> {
  if (!Number.isFinite(timeout) && signal === undefined) return promise
  return new Promise<T>((resolve, reject) => {
    const timer = Number.isFinite(timeout)
      ? setTimeout(
          () => {
            cleanup()
            reject(
              new TimeoutError(
                `NATS did not confirm the message '${name}' within ${timeout} ms.`,
                timeout,
              ),
            )
          },
          Math.min(timeout, MAX_TIMER_DELAY),
        ).unref()
      : undefined
    const onAbort = (): void => {
      cleanup()
      reject(signal!.reason)
    }
    const cleanup = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        cleanup()
        resolve(value)
      },
      (error: unknown) => {
        cleanup()
        reject(error)
      },
    )
  })
}

/** True when `promise` settled within `timeout` milliseconds. */
async function withinDeadline(promise: Promise<unknown>, timeout: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeout).unref()
  })
  try {
    return await Promise.race([promise.then(() => true), expired])
  } finally {
    clearTimeout(timer)
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/**
 * A connection that failed because no server answered (refused, a name not resolving yet, a
 * timeout), which a later attempt may make: not one the server refused (a wrong token).
 */
function isUnreachable(error: unknown): boolean {
  if (error instanceof ConnectionError || error instanceof NatsTimeoutError) return true
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === 'string' && /^E[A-Z]+$/.test(code)
}
