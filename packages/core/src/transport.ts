import type { OutgoingEnvelope } from './envelope.js'
import type { ExoRelayError } from './errors.js'
import type { ReceivedMessage } from './message-map.js'
import type { RelayStatus } from './relay-types.js'

/**
 * What the relay answers when its transport hands it a message. An HTTP listener turns these
 * into status codes (`statusOf` in @exorelay/http-protocol); a message-broker transport may
 * only log them.
 * - `accepted`: understood and handed to a reply waiter or a handler. Not "succeeded": an
 *   async handler is still running.
 * - `unknown`: no reply waiter and no handler matches.
 * - `failed`: the handler threw before it returned.
 * - `unavailable`: the relay is not receiving (not listening yet, or closing).
 */
export type Receipt =
  | { readonly status: 'accepted' }
  | { readonly status: 'unknown'; readonly error: ExoRelayError }
  | { readonly status: 'failed'; readonly error: ExoRelayError }
  | { readonly status: 'unavailable'; readonly error: ExoRelayError }

/**
 * Hands one incoming message to the relay. Synchronous: a transport answers at once.
 * `replyRoute` is the transport's own note of where replies to this message go (NATS: the
 * requester's inbox); the relay hands it back unchanged in the send options of every reply.
 */
export type Receiver = (message: ReceivedMessage, replyRoute?: unknown) => Receipt

/** What the relay gives its transport when it starts listening. */
export interface Endpoint {
  /** The service's name: the `sender` of every message it sends. */
  readonly serviceName: string
  /** Where incoming messages go. */
  readonly receive: Receiver
  /** The names this relay has handlers for, e.g. to subscribe to them or to tell the bus. */
  handledNames(): readonly string[]
  /** The relay's state and load, cheap to call (readiness endpoints). */
  status(): RelayStatus
  /** The port asked for (HTTP transports); `undefined` for the transport's default. */
  readonly port?: number | undefined
}

/** What the relay tells a transport about one message it sends. */
export interface TransportSendOptions {
  /** Milliseconds the transport may spend on this message; its own timeouts must not exceed it. */
  readonly timeout: number
  /** Fires when the caller gives up (its signal, the reply deadline, or close). */
  readonly signal?: AbortSignal | undefined
  /**
   * True when the relay waits for a reply to this message under the same `timeout` and
   * `signal`. The relay then looks at `send` only for a failure, so a transport may skip
   * confirming that the bus accepted the message (a broker round trip) and its own timers:
   * it resolves when it likes and rejects as soon as it learns the message was not taken.
   */
  readonly awaitsReply?: boolean | undefined
  /** On a reply: the `replyRoute` the transport gave `receive` with the request, if any. */
  readonly replyRoute?: unknown
}

/**
 * What a relay last saw of its bus or broker, without I/O: `unknown` before any exchange;
 * `reachable` once it answered; `unreachable` after it could not be reached; `unauthorized`
 * while it refuses the relay's credential.
 */
export type BusState = 'unknown' | 'reachable' | 'unreachable' | 'unauthorized'

/** The transport's part of a relay's readiness: `relay.status()` and `GET /status` show it. */
export interface BusStatus {
  bus: BusState
  /**
   * The bus routes to this relay: it took the relay's last registration (HTTP), or holds its
   * subscriptions (NATS, memory).
   */
  registered: boolean
}

/** What a transport reports once it receives messages. */
export interface ListenInfo {
  /** The bound port for socket transports; `0` for transports without one (memory, brokers). */
  readonly port: number
}

/**
 * The contract between the relay and the wire. A transport receives (hands each incoming
 * message to `endpoint.receive`) and sends (delivers each outgoing message to the bus). The
 * relay does everything else: validation, correlation, deadlines, logging. HTTP (Fastify
 * listener + undici sender), the in-memory bus and message brokers all fit it.
 *
 * Rules a transport keeps:
 * - `send` resolves once the bus has accepted the message, and rejects with a
 *   `TransportError` (coded `BUS_UNREACHABLE`, `BUS_REFUSED` or `NO_RECEIVER`) otherwise.
 *   It must respect `timeout` and `signal` (see `awaitsReply` for the one exception), and
 *   never retry a message that may have arrived.
 * - `listen` resolves once messages can arrive; it rejects with a `ListenError`.
 * - `close` stops receiving, finishes what it has in flight, and releases every resource.
 */
export interface Transport {
  /** Starts receiving: hands each incoming message to `endpoint.receive`. */
  listen(endpoint: Endpoint): Promise<ListenInfo>
  /** Delivers one message to the bus; resolves once the bus accepted it. */
  send(envelope: OutgoingEnvelope, options: TransportSendOptions): Promise<void>
  /** Stops receiving, finishes what is in flight and releases every resource. */
  close(): Promise<void>
  /**
   * Optional: stop new messages from being routed to this relay (withdraw from the bus,
   * unsubscribe) while replies to its pending sends still arrive. `close()` calls it first,
   * then lets running handlers finish, then calls `close`.
   */
  drain?(): Promise<void>
  /** Called when handlers are added after `listen`, so the transport can subscribe or re-announce. */
  handlersChanged?(): void
  /**
   * Optional: what the transport last saw of its bus, cheap and without I/O. Without it the
   * relay reports `{ bus: 'unknown', registered: false }`.
   */
  busStatus?(): BusStatus
}
