import { EventEmitter } from 'node:events'
import { diagnostics } from './diagnostics.js'
import { assertMessageName, assertPayload, createEnvelope, describeValue } from './envelope.js'
import { ERROR_REPLY, remoteHandlerError, toWireError } from './error-reply.js'
import {
  AbortError,
  ClosedError,
  ErrorCodes,
  ExoRelayError,
  HandlerError,
  InvalidArgumentError,
  ListenError,
  ProtocolError,
  TimeoutError,
} from './errors.js'
import { HandlerQueue } from './handler-queue.js'
import { type Logger, silentLogger } from './logger.js'
import type {
  AnyMessages,
  MessageMap,
  MessageName,
  OutcomeOf,
  PayloadArg,
  PayloadOf,
  ReceivedMessage,
  RepliesOf,
  ReplyEnvelopeOf,
  ReplyPayloadOf,
} from './message-map.js'
import { checkPort } from './options.js'
import { PendingReplies, type Timers } from './pending-replies.js'
import { HandlerRegistry } from './registry.js'
import { SentMessage, settleFailure, settleReply } from './sent-message.js'
import type { Endpoint, Receipt, Transport } from './transport.js'

/** How long a send waits for its reply unless told otherwise: 10 seconds. */
export const DEFAULT_TIMEOUT = 10_000

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
    payload: PayloadOf<M, Name>,
    onReply: ReplyCallback<M, Name>,
    options?: SendOptions,
  ): SentMessage<void, undefined>
  /** No reply expected: resolves when the bus accepted the message, holds nothing. */
  <Name extends MessageName<M>>(
    name: Name,
    payload: PayloadOf<M, Name>,
    options: SendOptions & { reply: false },
  ): SentMessage<void, undefined>
  /** Promise style: resolves with the payload of the first reply. Ignore it for fire-and-forget. */
  <Name extends ReplyingName<M>>(
    name: Name,
    ...args: [...PayloadArg<PayloadOf<M, Name>>, options?: SendOptions]
  ): SentMessage<ReplyPayloadOf<M, Name>, ReplyEnvelopeOf<M, Name>>
}

/** Names whose spec declares replies. */
export type ReplyingName<M> = {
  [Name in MessageName<M>]: M[Name] extends { replies: unknown } ? Name : never
}[MessageName<M>]

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
    ...payload: PayloadArg<RepliesOf<M, Name>[Outcome]>
  ): SentMessage<void, undefined>
  /** The relay's `send`, in all its forms. */
  readonly send: SendFunction<M>
}

export type Handler<M = AnyMessages, Name extends keyof M = MessageName<M>> = (
  payload: PayloadOf<M, Name>,
  context: HandlerContext<M, Name>,
) => unknown

export type HandlerMap<M> = { [Name in MessageName<M>]?: Handler<M, Name> }

export interface RelayOptions {
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
  /** Messages waiting for a handler slot; beyond it the relay refuses with 503. Default 1,000. */
  maxQueued?: number | undefined
  /** Milliseconds `close()` lets running handlers finish (and their replies go out). Default 10,000. */
  closeTimeout?: number | undefined
  /**
   * Capture the caller's stack on every send that waits for a reply, so that a `TimeoutError`
   * points at the `send(…)` line. Default `true`. `false` saves the capture, 2 to 10 µs per
   * send, on hot paths; a timeout's stack then starts in the relay's timer (its message still
   * names the message and its id). Like nats.js's `noAsyncTraces`.
   */
  stackTraces?: boolean | undefined
}

/** What a relay reports about itself, e.g. on `GET /status`. Cheap: no I/O. */
export interface RelayStatus {
  state: 'idle' | 'starting' | 'online' | 'closing' | 'closed'
  pendingReplies: number
  runningHandlers: number
  queuedMessages: number
}

export const DEFAULT_CONCURRENCY = 100
export const DEFAULT_MAX_QUEUED = 1_000
export const DEFAULT_CLOSE_TIMEOUT = 10_000

export interface RelayEvents {
  /** The relay receives messages; the port it listens on (`0` for transports without one). */
  online: [port: number]
  /** The relay has closed and its port is free. */
  offline: []
  /** Listening failed. Emitted only when someone listens for it; `listen()` rejects as well. */
  error: [error: ExoRelayError]
}

type State = RelayStatus['state']

const ACCEPTED: Receipt = Object.freeze({ status: 'accepted' })
const NOT_RUNNING = Object.freeze({ running: undefined, failed: false })

/**
 * The framework-agnostic relay: handlers, sends, reply correlation and lifecycle over any
 * `Transport`. The `exorelay` package wires it to HTTP, pino and the environment.
 *
 * @example
 * ```ts
 * const bus = new MemoryBus()
 * const relay = new Relay({ serviceName: 'users', transport: bus.transport() })
 * relay.registerHandler('users.create', (user, { reply }) => reply('users.created', user))
 * await relay.listen()
 * ```
 */
export class Relay<M extends MessageMap<M> = AnyMessages> extends EventEmitter<RelayEvents> {
  readonly serviceName: string
  readonly #transport: Transport
  readonly #log: Logger
  readonly #timeout: number
  readonly #pending: PendingReplies
  readonly #handlers = new HandlerRegistry<Handler<any, any>>()
  readonly #queue: HandlerQueue
  readonly #closeTimeout: number
  readonly #stackTraces: boolean
  #state: State = 'idle'
  /** Closing, and the transport is still withdrawing: what arrives was routed here, so it is handled. */
  #withdrawing = false
  #listening: Promise<number> | undefined
  #closing: Promise<void> | undefined

  constructor(options: RelayOptions) {
    super()
    if (typeof options?.serviceName !== 'string' || options.serviceName === '') {
      throw new InvalidArgumentError(
        ErrorCodes.MISSING_OPTION,
        `The relay needs a serviceName, got ${describeValue(options?.serviceName)}.`,
      )
    }
    this.serviceName = options.serviceName
    this.#transport = options.transport
    this.#log = options.logger ?? silentLogger
    this.#timeout = checkTimeout(options.timeout ?? DEFAULT_TIMEOUT, 'timeout')
    this.#pending = new PendingReplies({ timers: options.timers })
    this.#queue = new HandlerQueue(
      checkCount(options.concurrency ?? DEFAULT_CONCURRENCY, 'concurrency', 1),
      checkCount(options.maxQueued ?? DEFAULT_MAX_QUEUED, 'maxQueued', 0),
    )
    this.#closeTimeout = checkTimeout(options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT, 'closeTimeout')
    this.#stackTraces = checkBoolean(options.stackTraces ?? true, 'stackTraces')
  }

  /** The relay's state and load, for readiness checks. */
  status(): RelayStatus {
    return {
      state: this.#state,
      pendingReplies: this.#pending.size,
      runningHandlers: this.#queue.running,
      queuedMessages: this.#queue.queued,
    }
  }

  /** How many sends wait for replies right now (for health checks and leak tests). */
  get pendingReplies(): number {
    return this.#pending.size
  }

  /** True between a successful `listen()` and `close()`. */
  get online(): boolean {
    return this.#state === 'online'
  }

  /**
   * Registers the handler for a message name. Throws an `InvalidArgumentError` for an empty or
   * non-string name, a handler that is not a function, or a second handler for one name.
   *
   * @example
   * ```ts
   * relay.registerHandler('users.create', async (user, { reply, send }) => {
   *   const hash = await send('passwords.encrypt', user.password)
   *   reply('users.created', { id: 456, name: user.name })
   * })
   * ```
   */
  registerHandler<Name extends MessageName<M>>(name: Name, handler: Handler<M, Name>): this {
    this.#handlers.register(name, handler)
    if (this.#state === 'online') this.#transport.handlersChanged?.()
    return this
  }

  /** Registers several handlers at once; stops at the first invalid one. */
  registerHandlers(handlers: HandlerMap<M>): this {
    if (handlers === null || typeof handlers !== 'object') {
      throw new InvalidArgumentError(
        ErrorCodes.INVALID_HANDLER,
        `registerHandlers needs an object of handlers, got ${describeValue(handlers)}.`,
      )
    }
    for (const [name, handler] of Object.entries(handlers)) {
      this.registerHandler(name as MessageName<M>, handler as Handler<M, MessageName<M>>)
    }
    return this
  }

  hasHandler(name: string): boolean {
    return this.#handlers.has(name)
  }

  /**
   * Starts receiving. Resolves with the bound port and emits `online`. Calling it again while
   * starting or online returns the same port. A failure rejects with a `ListenError` (and is
   * emitted as `error` when someone listens for it); the relay can then try again.
   */
  listen(port?: number | string): Promise<number> {
    if (this.#state === 'closing' || this.#state === 'closed') {
      return Promise.reject(
        new ClosedError(ErrorCodes.CLOSED, 'The relay is closed: it cannot listen again.'),
      )
    }
    if (this.#listening !== undefined) return this.#listening
    let portNumber: number | undefined
    try {
      portNumber = port === undefined ? undefined : checkPort(port)
    } catch (error) {
      return Promise.reject(error)
    }
    this.#state = 'starting'
    const endpoint: Endpoint = {
      serviceName: this.serviceName,
      receive: this.#receive,
      handledNames: () => this.#handlers.names(),
      status: () => this.status(),
      port: portNumber,
    }
    this.#listening = this.#transport.listen(endpoint).then(
      ({ port: bound }) => {
        // close() may have started while the transport was binding.
        if (this.#state !== 'starting') return bound
        this.#state = 'online'
        this.#log.info({ port: bound }, 'online')
        this.emit('online', bound)
        return bound
      },
      (cause: unknown) => {
        this.#listening = undefined
        if (this.#state === 'starting') this.#state = 'idle'
        const error =
          cause instanceof ListenError
            ? cause
            : new ListenError(
                ErrorCodes.LISTEN_FAILED,
                `The relay could not listen: ${String(cause)}`,
                {
                  cause,
                },
              )
        this.#log.error({ err: error }, 'could not listen')
        if (this.listenerCount('error') > 0) this.emit('error', error)
        throw error
      },
    )
    return this.#listening
  }

  /**
   * Closes gracefully: withdraws from the bus (messages that arrive until the bus or broker
   * has taken the withdrawal are still handled: they were routed here), then refuses new
   * messages (503), lets running and queued handlers finish within `closeTimeout` (their sends
   * and replies still go out, and replies to them still arrive), then rejects every pending
   * send with a `ClosedError`, releases the transport, and emits `offline` once the port is
   * free. Safe to call twice.
   */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    const wasListening = this.#listening !== undefined
    this.#state = 'closing'
    this.#withdrawing = this.#transport.drain !== undefined
    this.#closing = (async () => {
      // A listen still binding must finish (or fail) before the transport can close its port.
      if (this.#listening !== undefined) await this.#listening.catch(() => undefined)
      try {
        await this.#transport.drain?.()
      } finally {
        this.#withdrawing = false
      }
      this.#log.info(
        { runningHandlers: this.#queue.running, queuedMessages: this.#queue.queued },
        'withdrawn: new messages are refused while handlers finish',
      )
      if (!(await this.#queue.idle(this.#closeTimeout))) {
        this.#log.warn(
          { runningHandlers: this.#queue.running, queuedMessages: this.#queue.queued },
          'handlers still running at the close timeout',
        )
      }
      this.#state = 'closed'
      this.#pending.rejectAll(
        new ClosedError(ErrorCodes.CLOSED, 'The relay was closed before a reply arrived.'),
      )
      await this.#transport.close()
      this.#log.info({}, 'offline')
      if (wasListening) this.emit('offline')
    })()
    return this.#closing
  }

  /**
   * Sends a message. Fire-and-forget, callback style, or awaited for a typed reply.
   * Waiting for the reply starts at once, so a send may be awaited later without losing a
   * reply that came meanwhile. Throws at once (an `InvalidArgumentError`) on an invalid name,
   * payload, callback or option.
   *
   * @example
   * ```ts
   * relay.send('hello', { name: 'world' })                                 // fire-and-forget
   * relay.send('users.create', data, (user, { outcome }) => console.log(outcome, user))
   * const user = await relay.send('users.create', data, { timeout: 2000 })
   * ```
   */
  readonly send: SendFunction<M> = ((
    name: unknown,
    payload?: unknown,
    third?: unknown,
    fourth?: unknown,
  ) => this.#send(name, payload, third, fourth, undefined, undefined)) as SendFunction<M>

  #send(
    name: unknown,
    payload: unknown,
    third: unknown,
    fourth: unknown,
    responseTo: string | undefined,
    replyRoute: unknown,
  ): SentMessage<any, any> {
    assertMessageName(name, 'ExoRelay#send')
    assertPayload(payload, 'ExoRelay#send')
    let onReply: ((payload: unknown, context: ReplyContext) => unknown) | undefined
    let options: unknown = third
    if (typeof third === 'function') {
      onReply = third as typeof onReply
      options = fourth
    } else if (fourth !== undefined) {
      throw new InvalidArgumentError(
        ErrorCodes.INVALID_HANDLER,
        `The reply handler given to ExoRelay#send must be a function, got ${describeValue(third)}.`,
      )
    }
    const { timeout, signal, reply } = checkSendOptions(options, this.#timeout)
    const envelope = createEnvelope(name, this.serviceName, payload, responseTo)
    const { id } = envelope
    const expectsReply = reply !== false || onReply !== undefined

    // While closing, handlers finishing their work may still send and reply.
    if (this.#state === 'closed') {
      const sent = this.#sentMessage(id, name, onReply !== undefined)
      sent[settleFailure](
        new ClosedError(ErrorCodes.CLOSED, `The relay is closed: cannot send '${name}'.`),
      )
      return sent
    }
    if (signal?.aborted) {
      const sent = this.#sentMessage(id, name, onReply !== undefined)
      sent[settleFailure](
        new AbortError(ErrorCodes.ABORTED, `The send of '${name}' was aborted before it started.`, {
          cause: signal.reason,
        }),
      )
      return sent
    }
    if (this.#log.isLevelEnabled?.('debug') !== false) {
      this.#log.debug({ messageName: name, messageId: id, responseTo }, 'sending')
    }
    if (diagnostics.send.hasSubscribers) {
      diagnostics.send.publish({ serviceName: this.serviceName, envelope })
    }

    const sent = this.#sentMessage(id, name, onReply !== undefined)
    if (!expectsReply) {
      this.#transport.send(envelope, { timeout, signal, replyRoute }).then(
        () => {
          sent[settleReply](undefined)
        },
        (error: unknown) => {
          sent[settleFailure](
            signal?.aborted && error === signal.reason
              ? new AbortError(
                  ErrorCodes.ABORTED,
                  `The send of '${name}' was aborted by its signal.`,
                  { cause: signal.reason },
                )
              : error,
          )
        },
      )
      return sent
    }

    const timedOut = () =>
      new TimeoutError(`No reply to '${name}' (id ${id}) within ${timeout} ms.`, timeout)
    // Made here by default, so that its stack points at the caller's `send` line.
    const timeoutError = this.#stackTraces ? timedOut() : timedOut
    this.#pending.wait(
      id,
      { timeout, timeoutError, signal, onReply: onReply && this.#replyCallback(id, onReply) },
      sent,
    )
    // The transport bounds the request by the same deadline and the caller's signal, so a
    // send that failed leaves no request running for long without an abort controller here.
    this.#transport
      .send(envelope, { timeout, signal, awaitsReply: true })
      .then(undefined, (error: unknown) => {
        this.#pending.reject(id, error)
      })
    return sent
  }

  #sentMessage(id: string, name: string, callbackStyle: boolean): SentMessage<any, any> {
    return new SentMessage(
      id,
      name,
      callbackStyle ? this.#unobservedCallbackSend : this.#unobservedSend,
    )
  }

  // What a failed send that nobody awaited logs. A missing reply to a fire-and-forget message
  // is normal; a message the bus never took is not, and must not vanish silently. Two shared
  // functions rather than a closure per send.
  readonly #unobservedSend = (error: unknown, sent: SentMessage): void => {
    this.#logUnobserved(error, sent, error instanceof TimeoutError || error instanceof ClosedError)
  }

  readonly #unobservedCallbackSend = (error: unknown, sent: SentMessage): void => {
    this.#logUnobserved(error, sent, error instanceof ClosedError)
  }

  #logUnobserved(error: unknown, sent: SentMessage, quiet: boolean): void {
    this.#log[quiet ? 'debug' : 'warn'](
      { err: error, messageName: sent.messageName, messageId: sent.id },
      'send failed',
    )
  }

  #replyCallback(
    id: string,
    onReply: (payload: unknown, context: ReplyContext) => unknown,
  ): (reply: ReceivedMessage) => void {
    const pending = this.#pending
    const log = this.#log
    return (reply) => {
      const context: ReplyContext = {
        outcome: reply.name,
        id: reply.id,
        responseTo: id,
        end: () => {
          pending.end(id)
        },
      }
      const fields = { messageName: reply.name, messageId: reply.id, responseTo: id }
      try {
        const result = onReply(reply.payload, context)
        if (isThenable(result)) {
          result.then(undefined, (err: unknown) =>
            log.error({ ...fields, err }, 'reply callback failed'),
          )
        }
      } catch (err) {
        log.error({ ...fields, err }, 'reply callback failed')
      }
    }
  }

  readonly #receive = (message: ReceivedMessage, replyRoute?: unknown): Receipt => {
    const receipt = this.#dispatch(message, replyRoute)
    if (diagnostics.receive.hasSubscribers) {
      diagnostics.receive.publish({ serviceName: this.serviceName, message, receipt })
    }
    return receipt
  }

  #dispatch(message: ReceivedMessage, replyRoute: unknown): Receipt {
    const { name, id, responseTo } = message
    const debug = this.#log.isLevelEnabled?.('debug') !== false
    // Replies are accepted while closing too: handlers finishing their work may wait for them.
    if (this.#state !== 'closed' && this.#deliverReply(message)) {
      if (debug) this.#log.debug({ messageName: name, messageId: id, responseTo }, 'reply received')
      return ACCEPTED
    }
    if (this.#state === 'closed' || (this.#state === 'closing' && !this.#withdrawing)) {
      return {
        status: 'unavailable',
        error: new ClosedError(
          ErrorCodes.CLOSED,
          `The relay is closing: cannot receive '${name}'.`,
        ),
      }
    }
    const handler = this.#handlers.get(name)
    if (handler === undefined) {
      if (debug)
        this.#log.debug({ messageName: name, messageId: id, responseTo }, 'unknown message')
      return {
        status: 'unknown',
        error: new ProtocolError(ErrorCodes.UNKNOWN_MESSAGE, `unknown message: '${name}'`),
      }
    }
    if (!this.#queue.hasCapacity) {
      if (!this.#queue.enqueue(() => this.#invoke(handler, message, replyRoute).running)) {
        this.#log.warn(
          { messageName: name, messageId: id, responseTo },
          'overloaded: message refused',
        )
        return {
          status: 'unavailable',
          error: new ExoRelayError(
            ErrorCodes.OVERLOADED,
            `The relay is overloaded: ${this.#queue.running} handlers running, ${this.#queue.queued} messages queued.`,
          ),
        }
      }
      if (debug) this.#log.debug({ messageName: name, messageId: id, responseTo }, 'queued')
      return ACCEPTED
    }
    if (debug) this.#log.debug({ messageName: name, messageId: id, responseTo }, 'received')
    const { running, failed, error } = this.#invoke(handler, message, replyRoute)
    this.#queue.track(running)
    if (failed) {
      return {
        status: 'failed',
        error: new HandlerError(ErrorCodes.HANDLER_FAILED, `The handler for '${name}' failed.`, {
          cause: error,
        }),
      }
    }
    return ACCEPTED
  }

  /** Hands a reply to its waiter; an error reply rejects the waiter with a `RemoteHandlerError`. */
  #deliverReply(message: ReceivedMessage): boolean {
    if (message.name !== ERROR_REPLY || message.responseTo === undefined) {
      return this.#pending.deliver(message)
    }
    if (!this.#pending.has(message.responseTo)) return false
    this.#pending.reject(message.responseTo, remoteHandlerError(message))
    return true
  }

  /**
   * Runs a handler. A failure, sync or async, is logged and answered with an error reply, so
   * the requester learns of it at once instead of waiting for its timeout. Returns the
   * promise of an async handler, for the queue to count it as running.
   */
  #invoke(
    handler: Handler<any, any>,
    message: ReceivedMessage,
    replyRoute: unknown,
  ): { running: Promise<unknown> | undefined; failed: boolean; error?: unknown } {
    let result: unknown
    try {
      result = handler(message.payload, new Context(this, message, replyRoute))
    } catch (error) {
      this.#handlerFailed(message, replyRoute, error)
      return { running: undefined, failed: true, error }
    }
    if (!isThenable(result)) return NOT_RUNNING
    return {
      running: Promise.resolve(result).then(undefined, (error: unknown) =>
        this.#handlerFailed(message, replyRoute, error),
      ),
      failed: false,
    }
  }

  #handlerFailed(message: ReceivedMessage, replyRoute: unknown, error: unknown): void {
    const { name, id, responseTo } = message
    if (diagnostics.handlerError.hasSubscribers) {
      diagnostics.handlerError.publish({ serviceName: this.serviceName, message, error })
    }
    this.#log.error({ err: error, messageName: name, messageId: id, responseTo }, 'handler failed')
    // Only requests get error replies: a reply to a reply would find nobody waiting for it.
    if (responseTo === undefined && this.#state !== 'closed') {
      this.sendReply(ERROR_REPLY, toWireError(error), id, replyRoute)
    }
  }

  /** @internal Sends a reply to `responseTo`. Used by handler contexts. */
  sendReply(
    outcome: unknown,
    payload: unknown,
    responseTo: string,
    replyRoute?: unknown,
  ): SentMessage<void, undefined> {
    return this.#send(outcome, payload, { reply: false }, undefined, responseTo, replyRoute)
  }
}

/** The `ctx` a handler gets. A class, so that each message costs one small object. */
class Context {
  readonly name: string
  readonly id: string
  readonly responseTo: string | undefined
  readonly sender: string | undefined
  readonly #relay: Relay<any>
  readonly #replyRoute: unknown

  constructor(relay: Relay<any>, message: ReceivedMessage, replyRoute: unknown) {
    this.#relay = relay
    this.#replyRoute = replyRoute
    this.name = message.name
    this.id = message.id
    this.responseTo = message.responseTo
    this.sender = message.sender
  }

  get send(): SendFunction<any> {
    return this.#relay.send
  }

  reply = (outcome: unknown, payload?: unknown): SentMessage<void, undefined> =>
    this.#relay.sendReply(outcome, payload, this.id, this.#replyRoute)
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  )
}

function checkCount(value: unknown, option: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      `The ${option} option must be an integer of at least ${min}, got ${describeValue(value)}.`,
    )
  }
  return value
}

function checkBoolean(value: unknown, option: string): boolean {
  if (typeof value !== 'boolean') {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      `The ${option} option must be a boolean, got ${describeValue(value)}.`,
    )
  }
  return value
}

function checkTimeout(value: unknown, option: string): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      `The ${option} option must be a positive number of milliseconds (or Infinity), got ${describeValue(value)}.`,
    )
  }
  return value
}

function checkSendOptions(
  options: unknown,
  defaultTimeout: number,
): { timeout: number; signal: AbortSignal | undefined; reply: boolean | undefined } {
  if (options === undefined || options === null) {
    return { timeout: defaultTimeout, signal: undefined, reply: undefined }
  }
  if (typeof options !== 'object') {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_HANDLER,
      `The reply handler given to ExoRelay#send must be a function, got ${describeValue(options)}.`,
    )
  }
  const { timeout, signal, reply } = options as SendOptions
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      `The signal option must be an AbortSignal, got ${describeValue(signal)}.`,
    )
  }
  if (reply !== undefined && typeof reply !== 'boolean') {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      `The reply option must be a boolean, got ${describeValue(reply)}.`,
    )
  }
  return {
    timeout: timeout === undefined ? defaultTimeout : checkTimeout(timeout, 'timeout'),
    signal,
    reply,
  }
}
