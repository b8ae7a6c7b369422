import type { Contract } from './contract.js'
import type { ExoRelayError } from './errors.js'
import type { Logger } from './logger.js'
import type {
  AnyMessages,
  MessageName,
  OutcomeOf,
  PayloadArg,
  PayloadInputOf,
  PayloadOf,
  ReplyEnvelopeOf,
  ReplyInputOf,
  ReplyPayloadOf,
} from './message-map.js'
import type { Timers } from './pending-replies.js'
import type { SentMessage } from './sent-message.js'
import type { BusStatus, Transport } from './transport.js'

// The public types of a relay: what `send` takes, what handlers and reply callbacks get, and
// the relay's options, status and events. The class itself is in `relay.ts`.

/** The options of one `send`. */
export interface SendOptions {
  /** Milliseconds to wait for the reply (and for the bus to accept the message). Default: the relay's `timeout`. */
  timeout?: number
  /** Aborts the wait; the send then rejects with an `AbortError`. */
  signal?: AbortSignal
  /** `false`: no reply is expected. Nothing is held; the send resolves once the bus accepted it. */
  reply?: boolean
}

/** What a reply callback gets beside the payload. */
export interface ReplyContext<Outcome extends string = string> {
  /** The reply's name, e.g. `users.created` or `users.not-created`. */
  readonly outcome: Outcome
  readonly id: string
  readonly responseTo: string
  /** Stops receiving outcomes for this request before its deadline. */
  end(): void
}

/** The callback of a callback-style `send`: called with each outcome's payload until `end()` or the deadline. */
export type ReplyCallback<M, Name extends keyof M> = M[Name] extends { replies: infer R }
  ? (payload: R[keyof R & string], context: ReplyContext<keyof R & string>) => unknown
  : never

/**
 * `send` in all its forms. Messages whose spec declares no replies must be sent with
 * `{ reply: false }`, so that the relay holds nothing for them at runtime.
 */
export interface SendFunction<M> {
  /** Callback style: every outcome reaches `onReply` until `end()` or the deadline. */
  <Name extends MessageName<M>>(
    name: Name,
    payload: PayloadInputOf<M, Name>,
    onReply: ReplyCallback<M, Name>,
    options?: SendOptions,
  ): SentMessage<void, undefined>
  /** No reply expected: resolves when the bus accepted the message, holds nothing. */
  <Name extends MessageName<M>>(
    name: Name,
    payload: PayloadInputOf<M, Name>,
    options: SendOptions & { reply: false },
  ): SentMessage<void, undefined>
  /** Promise style: resolves with the payload of the first reply. Ignore it for fire-and-forget. */
  <Name extends string>(
    name: RepliedName<M, Name>,
    ...args: [...PayloadArg<PayloadInputOf<M, Name & MessageName<M>>>, options?: SendOptions]
  ): SentMessage<
    ReplyPayloadOf<M, Name & MessageName<M>>,
    ReplyEnvelopeOf<M, Name & MessageName<M>>
  >
}

/**
 * What the name of a send awaited for its reply must be. `Name` itself when its spec declares
 * replies; for a name whose spec declares none, a sentence the compiler quotes: `Argument of
 * type '"users.touch"' is not assignable to parameter of type '"'users.touch' declares no
 * reply: send it with { reply: false }"'`; for a name the map lacks, the map's names, as the
 * other forms of `send` say. `Name` is any string, not only the map's names, so that the
 * compiler infers it from the argument even when the map lacks it: otherwise it would fall
 * back to all the map's names, and claim that each of them declares no reply.
 */
export type RepliedName<M, Name extends string> =
  Name extends MessageName<M>
    ? M[Name] extends { replies: unknown }
      ? Name
      : `'${Name}' declares no reply: send it with { reply: false }`
    : MessageName<M>

/** What a handler gets beside the payload: the message's metadata, `reply` and `send`. */
export interface HandlerContext<M = AnyMessages, Name extends keyof M = MessageName<M>> {
  readonly name: Name
  readonly id: string
  readonly responseTo: string | undefined
  readonly sender: string | undefined
  /**
   * Answers this message with an outcome. Expects nothing back; resolves once the bus accepted
   * the reply (a failure nobody awaits is logged).
   */
  reply<Outcome extends OutcomeOf<M, Name>>(
    outcome: Outcome,
    ...payload: PayloadArg<ReplyInputOf<M, Name, Outcome>>
  ): SentMessage<void, undefined>
  /**
   * The relay's `send`, in all its forms, inheriting from this message. It carries the
   * message's trace context. A send that waits for a reply waits at most the time this message
   * has left (with none left it rejects at once with a `TimeoutError` and sends nothing), and
   * is cancelled when this message is. A reply or a fire-and-forget event goes out whatever
   * happened.
   */
  readonly send: SendFunction<M>
  /**
   * Aborted when this message's deadline passes (`reason`: a `TimeoutError`), when its caller
   * cancels (an `AbortError`), or when `close()` gives up on the handler (a `ClosedError`).
   * Pass it on to `fetch`, database drivers and the like, so that work for a caller that
   * stopped waiting stops too. It follows the handler's returned promise: return (or await)
   * the work it guards, since the signal of a handler that has returned no longer aborts.
   */
  readonly signal: AbortSignal
  /**
   * When the sender stops waiting, in epoch milliseconds: arrival plus the message's
   * `timeout`. `undefined` for a message without one (fire-and-forget, or from an original
   * relay).
   */
  readonly deadline: number | undefined
  /** Milliseconds until the deadline, `0` once it passed, `Infinity` without one. */
  timeLeft(): number
  /** W3C Trace Context of the message, when it carried a valid one. */
  readonly traceparent: string | undefined
  readonly tracestate: string | undefined
  /** The relay's logger, bound to the message's name, id and (with trace context) trace id. */
  readonly log: Logger
}

/** A message handler: gets the payload and the {@link HandlerContext}; may be async. */
export type Handler<M = AnyMessages, Name extends keyof M = MessageName<M>> = (
  payload: PayloadOf<M, Name>,
  context: HandlerContext<M, Name>,
) => unknown

/** Handlers by message name, as `registerHandlers` takes them. */
export type HandlerMap<M> = { [Name in MessageName<M>]?: Handler<M, Name> }

/**
 * Options of a core {@link Relay}; the `exorelay` facade's `ExoRelayOptions` add the HTTP and
 * environment settings. `M` is the message map, inferred from `contract` when one is given.
 */
export interface RelayOptions<M = AnyMessages> {
  /** The service's name, sent as `sender` on every message. */
  serviceName: string
  /** How messages travel. */
  transport: Transport
  /** A pino-compatible logger. Default: silent. */
  logger?: Logger | undefined
  /** Default reply timeout in milliseconds for `send`. Default: 10,000. */
  timeout?: number | undefined
  /** Timer functions for the deadlines (tests). Default: Node's, unref'd. */
  timers?: Timers | undefined
  /** Handlers running at once; more wait in a queue. Default 100. */
  concurrency?: number | undefined
  /**
   * Messages waiting for a handler slot; beyond it the relay refuses them with `OVERLOADED`
   * (the HTTP transports answer it with the status `statusOf` gives, see
   * `@exorelay/http-protocol`). Default 1,000.
   */
  maxQueued?: number | undefined
  /** Milliseconds `close()` lets running handlers finish (and their replies go out). Default 10,000. */
  closeTimeout?: number | undefined
  /**
   * Where the stack of whatever a send rejects with (a `TimeoutError`, no receiver, a remote
   * handler's failure) points, so that it says which `send` failed:
   *
   * - `'await'` (default): at the code awaiting the send (`at async createUser (app.ts:12)`),
   *   from V8's async stack traces, with no stack captured per send (as cheap as `false` in
   *   core's micro-benchmark); a send observed through `.then()`, a callback or `envelope()`
   *   keeps the error's own stack.
   * - `true`: at the `send(…)` line for every style, captured on every send (about 1.5 to 4 µs
   *   per send).
   * - `false`: nowhere; errors keep the stacks they were made with, in the relay's timer or
   *   the transport (their messages still name the message). The cheapest.
   *
   * Default `'await'`.
   */
  stackTraces?: boolean | 'await' | undefined
  /**
   * The message contract (`defineContract`): types the relay without a type argument (what it
   * sends by the schemas' input, what it receives by their output), and
   * validates, for the names it lists, each incoming payload before its handler runs (a
   * refused one is answered with `EXORELAY_ERR_PAYLOAD_INVALID`) and each reply before the
   * send resolves (`EXORELAY_ERR_REPLY_INVALID`). Names it does not list pass as before.
   */
  contract?: Contract<M> | undefined
  /**
   * Also validate what this relay sends against the contract, before it leaves: an invalid
   * payload or reply rejects the send and sends nothing; a valid one leaves as written (the
   * receiver's validator applies defaults and transforms). Costs one validation per message
   * sent. Default: on unless `NODE_ENV` is `production`, read once at construction.
   */
  validateOutgoing?: boolean | undefined
}

/** What a relay reports about itself, e.g. on `GET /status`. Cheap: no I/O. */
export interface RelayStatus extends BusStatus {
  state: 'idle' | 'starting' | 'online' | 'closing' | 'closed'
  pendingReplies: number
  runningHandlers: number
  queuedMessages: number
}

/** The events a relay emits, with their arguments. */
export interface RelayEvents {
  /** The relay receives messages; the port it listens on (`0` for transports without one). */
  online: [port: number]
  /** The relay has closed and its port is free. */
  offline: []
  /**
   * Something needs the operator: listening failed (`listen()` rejects as well), or the
   * transport found the relay and its bus at odds (a token mismatch). Emitted only when
   * someone listens for it.
   */
  error: [error: ExoRelayError]
}
