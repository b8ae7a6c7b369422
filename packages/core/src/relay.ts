import { EventEmitter } from 'node:events'
import { atCallSite, type CallSite, captureCallSite } from './call-site.js'
import { isContract } from './contract.js'
import { diagnostics, type SendTrace } from './diagnostics.js'
import { type Admission, Dispatcher } from './dispatch.js'
import {
  assertMessageName,
  assertPayload,
  createEnvelope,
  describeValue,
  MAX_MESSAGE_TIMEOUT,
  MAX_SERVICE_NAME_LENGTH,
  type OutgoingEnvelope,
} from './envelope.js'
import {
  AbortError,
  ClosedError,
  ErrorCodes,
  ExoRelayError,
  InvalidArgumentError,
  ListenError,
  TimeoutError,
} from './errors.js'
import { CANCEL, type HandlerContextImpl } from './handler-context.js'
import { HandlerQueue } from './handler-queue.js'
import { type Logger, silentLogger } from './logger.js'
import type { AnyMessages, MessageMap, MessageName } from './message-map.js'
import {
  checkBoolean,
  checkInteger,
  checkPort,
  checkStackTraces,
  checkTimeout,
  invalidOption,
  missingOption,
} from './options.js'
import { ContractChecks } from './payload-validation.js'
import { abortedError, PendingReplies } from './pending-replies.js'
import { HandlerRegistry } from './registry.js'
import type {
  Handler,
  HandlerMap,
  RelayEvents,
  RelayOptions,
  RelayStatus,
  SendFunction,
} from './relay-types.js'
import { isThenable, type OnReply, readSendArguments, replyCallback } from './send-arguments.js'
import { onFailure, SentMessage, sendTrace, settleFailure, settleReply } from './sent-message.js'
import { assignTraceContext } from './trace-context.js'
import type { BusStatus, Endpoint, Transport, TransportSendOptions } from './transport.js'

// A reply expects nothing back.
const NO_REPLY = Object.freeze({ reply: false })
// How long a cancellation may take to reach the bus: it is worth little once late.
const CANCEL_TIMEOUT = 2_000

// What a transport that says nothing of its bus reports.
const UNKNOWN_BUS: BusStatus = Object.freeze({ bus: 'unknown', registered: false })

/** How long a send waits for its reply unless told otherwise: 10 seconds. */
export const DEFAULT_TIMEOUT = 10_000

/** Handlers a relay runs at once unless told otherwise (`concurrency`). */
export const DEFAULT_CONCURRENCY = 100
/** Messages a relay keeps waiting for a handler slot unless told otherwise (`maxQueued`). */
export const DEFAULT_MAX_QUEUED = 1_000
/** Milliseconds `close()` lets running handlers finish unless told otherwise (`closeTimeout`). */
export const DEFAULT_CLOSE_TIMEOUT = 10_000

type State = RelayStatus['state']

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
  readonly #stackTraces: boolean | 'await'
  /** The contract's checks; `undefined` without a contract, so that nothing is checked. */
  readonly #contract: ContractChecks | undefined
  /** The contract's checks of what this relay sends (`validateOutgoing`), else `undefined`. */
  readonly #outgoing: ContractChecks | undefined
  #state: State = 'idle'
  /** Closing, and the transport is still withdrawing: what arrives was routed here, so it is handled. */
  #withdrawing = false
  #listening: Promise<number> | undefined
  /** Why the last `listen()` failed, until one succeeds: a send then says so. */
  #listenFailure: ListenError | undefined
  #closing: Promise<void> | undefined
  readonly #dispatcher: Dispatcher

  constructor(options: RelayOptions<M>) {
    super()
    if (typeof options?.serviceName !== 'string' || options.serviceName === '') {
      throw missingOption('serviceName', '', options?.serviceName)
    }
    if (options.serviceName.length > MAX_SERVICE_NAME_LENGTH) {
      throw invalidOption(
        'serviceName',
        `at most ${MAX_SERVICE_NAME_LENGTH} characters (a bus refuses longer senders)`,
        options.serviceName,
      )
    }
    this.serviceName = options.serviceName
    this.#transport = options.transport
    this.#log = options.logger ?? silentLogger
    this.#timeout = checkTimeout(options.timeout, 'timeout', DEFAULT_TIMEOUT)
    this.#pending = new PendingReplies({ timers: options.timers })
    this.#queue = new HandlerQueue(
      checkInteger(options.concurrency, 'concurrency', 1, DEFAULT_CONCURRENCY),
      checkInteger(options.maxQueued, 'maxQueued', 0, DEFAULT_MAX_QUEUED),
    )
    this.#closeTimeout = checkTimeout(options.closeTimeout, 'closeTimeout', DEFAULT_CLOSE_TIMEOUT)
    this.#stackTraces = checkStackTraces(options.stackTraces)
    const { contract } = options
    if (contract !== undefined && !isContract(contract)) {
      throw invalidOption('contract', 'a contract made by defineContract()', contract)
    }
    if (contract === undefined) {
      this.#contract = undefined
    } else {
      const checks = new ContractChecks(contract, this.serviceName, this.#pending, this.#log)
      // Replies still being checked when their request's wait ends deliver to nobody.
      this.#pending.ended = (id) => checks.forget(id)
      this.#contract = checks
    }
    const validateOutgoing = checkBoolean(
      options.validateOutgoing,
      'validateOutgoing',
      process.env.NODE_ENV !== 'production',
    )
    this.#outgoing = validateOutgoing ? this.#contract : undefined
    this.#dispatcher = new Dispatcher({
      host: {
        serviceName: this.serviceName,
        log: this.#log,
        sendFrom: (parent, name, payload, third, fourth) =>
          this.#send(name, payload, third, fourth, undefined, undefined, parent),
        sendReply: (outcome, payload, responseTo, replyRoute, parent) =>
          this.#send(outcome, payload, NO_REPLY, undefined, responseTo, replyRoute, parent),
      },
      admission: () => this.#admission(),
      handlers: this.#handlers,
      queue: this.#queue,
      pending: this.#pending,
      replies: this.#contract,
      log: this.#log,
    })
  }

  /**
   * The relay's state and load, and what its transport last saw of the bus (`bus`,
   * `registered`), for readiness checks. Cheap, no I/O; `GET /status` serves the same.
   *
   * @example
   * ```ts
   * const { state, bus, registered } = relay.status() // 'online', 'reachable', true
   * ```
   */
  status(): RelayStatus {
    return {
      state: this.#state,
      pendingReplies: this.#pending.size,
      runningHandlers: this.#queue.running,
      queuedMessages: this.#queue.queued,
      ...(this.#transport.busStatus?.() ?? UNKNOWN_BUS),
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
    // With a contract that has a payload schema for the name, the handler is wrapped in its
    // check once, here: a relay without one runs handlers as they are.
    this.#handlers.register(
      name,
      this.#contract === undefined || typeof name !== 'string'
        ? handler
        : this.#contract.handler(name, handler),
    )
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

  /** Whether a handler for `name` is registered. */
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
        new ClosedError(
          ErrorCodes.CLOSED,
          `The relay '${this.serviceName}' is closed: it cannot listen again. Create a new relay.`,
        ),
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
      receive: this.#dispatcher.receive,
      handledNames: () => this.#handlers.names(),
      status: () => this.status(),
      port: portNumber,
    }
    this.#listening = this.#transport.listen(endpoint).then(
      ({ port: bound }) => {
        // close() may have started while the transport was binding.
        if (this.#state !== 'starting') return bound
        this.#state = 'online'
        this.#listenFailure = undefined
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
        this.#listenFailure = error
        // One line, no stack: the message says what failed and what to do, and the caller
        // holds the error itself.
        this.#log.error({ code: error.code }, error.message)
        if (this.listenerCount('error') > 0) this.emit('error', error)
        throw error
      },
    )
    return this.#listening
  }

  /**
   * Closes gracefully: withdraws from the bus (messages that arrive until the bus or broker
   * has taken the withdrawal are still handled: they were routed here), then refuses new
   * messages, lets running and queued handlers finish within `closeTimeout` (their sends
   * and replies still go out, and replies to them still arrive), then rejects every pending
   * send with a `ClosedError`, releases the transport, and emits `offline` once the port is
   * free. Safe to call twice.
   */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    const listening = this.#listening
    this.#state = 'closing'
    this.#withdrawing = this.#transport.drain !== undefined
    this.#closing = (async () => {
      // A listen still binding must finish (or fail) before the transport can close its port.
      // A relay whose listen failed was never online: it says nothing of withdrawing or of
      // going offline.
      const listened =
        listening !== undefined &&
        (await listening.then(
          () => true,
          () => false,
        ))
      try {
        await this.#transport.drain?.()
      } finally {
        this.#withdrawing = false
      }
      if (listened) {
        this.#log.info(
          { runningHandlers: this.#queue.running, queuedMessages: this.#queue.queued },
          'closing: new messages are refused while handlers finish',
        )
      }
      if (!(await this.#queue.idle(this.#closeTimeout))) {
        this.#log.warn(
          { runningHandlers: this.#queue.running, queuedMessages: this.#queue.queued },
          'handlers still running at the close timeout',
        )
        // Their signals tell them to stop: nothing they do reaches anyone any more.
        this.#dispatcher.abortRunning()
      }
      this.#state = 'closed'
      this.#pending.rejectAll(
        (name) =>
          new ClosedError(
            ErrorCodes.CLOSED,
            `The relay was closed before a reply to '${name}' arrived.`,
          ),
      )
      await this.#transport.close()
      if (listened) {
        this.#log.info({}, 'offline')
        this.emit('offline')
      }
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

  /**
   * Every send: the relay's own, a handler's (`parent`: it inherits that message's deadline
   * and trace context) and a handler's reply (`responseTo`).
   */
  #send(
    name: unknown,
    payload: unknown,
    third: unknown,
    fourth: unknown,
    responseTo: string | undefined,
    replyRoute: unknown,
    parent?: HandlerContextImpl,
    checked?: { id: string; timeout: number },
  ): SentMessage<any, any> {
    assertMessageName(name, 'ExoRelay#send')
    assertPayload(payload, 'ExoRelay#send')
    const args = readSendArguments(third, fourth, this.#timeout)
    const { onReply, reply } = args
    let { timeout, signal } = args
    const envelope = createEnvelope(name, this.serviceName, payload, responseTo)
    if (checked !== undefined) {
      envelope.id = checked.id
      timeout = checked.timeout
    }
    const { id } = envelope
    const expectsReply = reply !== false || onReply !== undefined
    // Where the caller sent it, so that whatever the send rejects with points at that line
    // (decisions 0010, 0023). A reply has no caller to point at: its failure is only logged.
    const callSite =
      this.#stackTraces === true && responseTo === undefined ? this.#callerOf(parent) : undefined
    if (this.#outgoing !== undefined && checked === undefined) {
      const refused = this.#outgoing.outgoing(
        name,
        payload,
        responseTo === undefined ? undefined : parent?.name,
      )
      if (refused !== undefined) {
        const failedSite = this.#failedCallSite(callSite, responseTo, parent)
        if (!isThenable(refused)) {
          return this.#failed(envelope, expectsReply, onReply !== undefined, refused, failedSite)
        }
        return this.#sendChecked(
          refused,
          id,
          name,
          payload,
          args,
          third,
          fourth,
          responseTo,
          replyRoute,
          parent,
          failedSite,
        )
      }
    }
    // Set when this send's deadline is its parent message's.
    let endsWithParent: HandlerContextImpl | undefined
    if (parent !== undefined) {
      // The trace goes on through every message the handler sends, its replies included.
      if (parent.traceparent !== undefined) {
        envelope.traceparent = parent.traceparent
        if (parent.tracestate !== undefined) envelope.tracestate = parent.tracestate
      }
      // Only what waits for a reply inherits the deadline and a cancellation: a reply, or an
      // event the handler publishes (its work is done), goes out whatever happened.
      if (expectsReply) {
        const left = parent.timeLeft()
        const stopped = parent.stopped
        if (left === 0 || stopped !== undefined) {
          return this.#failed(
            envelope,
            expectsReply,
            onReply !== undefined,
            stopped === undefined
              ? parent.deadlinePassedFor(name)
              : new AbortError(
                  ErrorCodes.ABORTED,
                  `'${name}' was not sent: the handler of '${parent.name}' was told to stop.`,
                  { cause: stopped },
                ),
            this.#failedCallSite(callSite, responseTo, parent),
          )
        }
        if (left < timeout) {
          timeout = Math.ceil(left)
          endsWithParent = parent
        }
        signal = parent.stopsWith(signal)
      }
    }
    // The receiver's deadline: what the sender will still wait, counted from now; none for a
    // send that waits for ever, and at most a day (what a receiver would take anyway).
    if (expectsReply && Number.isFinite(timeout)) {
      envelope.timeout = Math.min(Math.ceil(timeout), MAX_MESSAGE_TIMEOUT)
    }

    // While closing, handlers finishing their work may still send and reply.
    if (this.#state === 'closed') {
      return this.#failed(
        envelope,
        expectsReply,
        onReply !== undefined,
        new ClosedError(
          ErrorCodes.CLOSED,
          `The relay is closed: cannot send '${name}'. Send before close(), or from a new relay.`,
        ),
        this.#failedCallSite(callSite, responseTo, parent),
      )
    }
    // Without a listener no reply can reach this relay: it would wait out its whole deadline
    // while the receiver's reply went nowhere. It fails at once and sends nothing (decision
    // 0023). While starting, listen() was called: the reply finds the relay once it is up.
    if (expectsReply && this.#state === 'idle') {
      return this.#failed(
        envelope,
        expectsReply,
        onReply !== undefined,
        this.#notListening(name),
        this.#failedCallSite(callSite, responseTo, parent),
      )
    }
    if (signal?.aborted) {
      return this.#failed(
        envelope,
        expectsReply,
        onReply !== undefined,
        new AbortError(ErrorCodes.ABORTED, `The send of '${name}' was aborted before it started.`, {
          cause: signal.reason,
        }),
        this.#failedCallSite(callSite, responseTo, parent),
      )
    }
    if (this.#log.isLevelEnabled?.('debug') !== false) {
      this.#log.debug({ messageName: name, messageId: id, responseTo }, 'sending')
    }

    const sent = this.#sentMessage(id, name, onReply !== undefined, responseTo !== undefined)
    if (endsWithParent !== undefined) expireWith(sent, endsWithParent)
    // First, so that a tracer sees the send in the caller's context and may add its trace
    // context to the envelope before anything reads it.
    const trace = this.#startTrace(sent, envelope, expectsReply)
    if (diagnostics.send.hasSubscribers) {
      diagnostics.send.publish({ serviceName: this.serviceName, envelope })
    }
    try {
      this.#hand(sent, envelope, expectsReply, timeout, signal, onReply, replyRoute, callSite)
    } finally {
      if (trace !== undefined) diagnostics.sendTracing.end.publish(trace)
    }
    return sent
  }

  /**
   * A send whose payload an async validator checks: it leaves once the check passed, under
   * the same id, with what is left of its deadline. Meanwhile it waits in the reply table,
   * so that its deadline, its signal (and its handler's) and close() end it as any send's;
   * once ended, it is not sent.
   */
  #sendChecked(
    check: Promise<ExoRelayError | undefined>,
    id: string,
    name: string,
    payload: unknown,
    args: ReturnType<typeof readSendArguments>,
    third: unknown,
    fourth: unknown,
    responseTo: string | undefined,
    replyRoute: unknown,
    parent: HandlerContextImpl | undefined,
    callSite: CallSite | undefined,
  ): SentMessage<any, any> {
    const expectsReply = args.reply !== false || args.onReply !== undefined
    const sent = this.#sentMessage(id, name, args.onReply !== undefined, responseTo !== undefined)
    let { timeout, signal } = args
    if (parent !== undefined && expectsReply) {
      timeout = Math.min(timeout, parent.timeLeft())
      signal = parent.stopsWith(signal)
    }
    const started = performance.now()
    this.#pending.wait(
      id,
      {
        timeout,
        timeoutError: () =>
          new TimeoutError(
            `'${name}' was not sent within ${timeout} ms: the contract's validator of its payload had not finished. Make the validator settle, or raise the timeout.`,
            timeout,
          ),
        callSite,
        signal,
      },
      sent,
    )
    check.then((error) => {
      if (!this.#pending.release(id)) return
      if (error !== undefined) {
        sent[settleFailure](atCallSite(error, callSite))
        return
      }
      const left = Math.max(1, timeout - (performance.now() - started))
      this.#send(name, payload, third, fourth, responseTo, replyRoute, parent, {
        id,
        timeout: Number.isFinite(timeout) ? left : timeout,
      })
        .envelope()
        .then(
          (received) => sent[settleReply](received),
          (failure: unknown) => sent[settleFailure](failure),
        )
    })
    return sent
  }

  /** Hands a send to the transport, and, for a request, waits for its reply. */
  #hand(
    sent: SentMessage<any, any>,
    envelope: OutgoingEnvelope,
    expectsReply: boolean,
    timeout: number,
    signal: AbortSignal | undefined,
    onReply: OnReply | undefined,
    replyRoute: unknown,
    callSite: CallSite | undefined,
  ): void {
    const { id, name } = envelope
    if (!expectsReply) {
      this.#handOver(envelope, { timeout, signal, replyRoute }).then(
        () => {
          sent[settleReply](undefined)
        },
        (error: unknown) => {
          sent[settleFailure](
            atCallSite(
              signal?.aborted && error === signal.reason
                ? abortedError(name, signal.reason)
                : error,
              callSite,
            ),
          )
        },
      )
      return
    }

    this.#pending.wait(
      id,
      {
        timeout,
        timeoutError: () =>
          new TimeoutError(
            `No reply to '${name}' (id ${id}) within ${timeout} ms. Check that a service handles '${name}' and replies, or raise the timeout for slow work.`,
            timeout,
          ),
        callSite,
        signal,
        onReply: onReply && replyCallback(id, onReply, this.#pending, this.#log),
        // The receiver may still be working on it: tell it, so that its handler can stop.
        onAbort: signal === undefined ? undefined : () => this.#cancel(id, name),
      },
      sent,
    )
    // The transport bounds the request by the same deadline and the caller's signal, so a
    // send that failed leaves no request running for long without an abort controller here.
    this.#handOver(envelope, { timeout, signal, awaitsReply: true }).then(
      undefined,
      (error: unknown) => {
        this.#pending.reject(id, error)
      },
    )
  }

  /**
   * The transport's `send`, whose failure is always a rejection: a transport that throws
   * instead must not make `relay.send()` throw, nor leave a send unsettled.
   */
  #handOver(envelope: OutgoingEnvelope, options: TransportSendOptions): Promise<void> {
    try {
      return this.#transport.send(envelope, options)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  #notListening(name: string): ExoRelayError {
    const failure = this.#listenFailure
    if (failure !== undefined) {
      // listen() was called (by the app, when mounted): telling to call it would mislead.
      return new ExoRelayError(
        ErrorCodes.NOT_LISTENING,
        `The relay '${this.serviceName}' is not listening, so no reply to '${name}' can reach it: this relay's listen() failed: ${failure.message} Until it listens, send with { reply: false } if no reply is wanted.`,
      )
    }
    return new ExoRelayError(
      ErrorCodes.NOT_LISTENING,
      `The relay '${this.serviceName}' is not listening, so no reply to '${name}' can reach it: call \`await relay.listen()\` first (when mounted in a Fastify app: \`await app.listen()\`), or send with { reply: false } if no reply is wanted.`,
    )
  }

  /**
   * Where a send that fails before it leaves was called: it fails in the caller's own stack,
   * so with `'await'` the stack is captured then, at no cost to the sends that do not fail.
   */
  #failedCallSite(
    callSite: CallSite | undefined,
    responseTo: string | undefined,
    parent: HandlerContextImpl | undefined,
  ): CallSite | undefined {
    if (callSite !== undefined || this.#stackTraces !== 'await' || responseTo !== undefined) {
      return callSite
    }
    return this.#callerOf(parent)
  }

  /** The stack above the `send` the caller called: the relay's, or its handler context's. */
  #callerOf(parent: HandlerContextImpl | undefined): CallSite {
    return captureCallSite(parent === undefined ? this.send : parent.send)
  }

  /** A send that fails before it leaves: it still shows in a trace, with its error. */
  #failed(
    envelope: OutgoingEnvelope,
    expectsReply: boolean,
    callbackStyle: boolean,
    error: Error,
    callSite: CallSite | undefined,
  ): SentMessage<any, any> {
    const sent = this.#sentMessage(
      envelope.id,
      envelope.name,
      callbackStyle,
      envelope.responseTo !== undefined,
    )
    const trace = this.#startTrace(sent, envelope, expectsReply)
    if (trace !== undefined) diagnostics.sendTracing.end.publish(trace)
    sent[settleFailure](atCallSite(error, callSite))
    return sent
  }

  /** Publishes the start of a send on `exorelay:send` when a tracer listens; settling ends it. */
  #startTrace(
    sent: SentMessage<any, any>,
    envelope: OutgoingEnvelope,
    expectsReply: boolean,
  ): SendTrace | undefined {
    if (!diagnostics.sendTracing.start.hasSubscribers) return undefined
    const trace: SendTrace = { serviceName: this.serviceName, envelope, expectsReply }
    sent[sendTrace] = trace
    const { traceparent, tracestate } = envelope
    diagnostics.sendTracing.start.publish(trace)
    if (envelope.traceparent !== traceparent || envelope.tracestate !== tracestate) {
      // Checked as if it came over the wire: a subscriber's mistake must not reach the bus
      // (over NATS, a control character in a header would fail the publish).
      assignTraceContext(envelope, envelope.traceparent, envelope.tracestate)
    }
    return trace
  }

  /**
   * Tells the receivers of request `id` that nobody waits for it any more: one small message,
   * best effort (issue 15). A deadline needs none: the receiver knows it.
   */
  #cancel(id: string, name: string): void {
    if (this.#state === 'closed') return
    const envelope = createEnvelope(CANCEL, this.serviceName, undefined, id)
    this.#handOver(envelope, { timeout: CANCEL_TIMEOUT }).then(undefined, (error) => {
      this.#log.debug(
        { err: error, messageName: name, messageId: id },
        'the cancellation could not be sent',
      )
    })
  }

  /** A reply (`isReply`) has no caller awaiting it whose line a failure could show. */
  #sentMessage(
    id: string,
    name: string,
    callbackStyle: boolean,
    isReply: boolean,
  ): SentMessage<any, any> {
    return new SentMessage(
      id,
      name,
      callbackStyle ? this.#unobservedCallbackSend : this.#unobservedSend,
      this.#stackTraces === 'await' && !isReply,
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

  /** What the lifecycle lets in; while the transport withdraws, what arrives was routed here. */
  #admission(): Admission {
    if (this.#state === 'closed') return 'none'
    return this.#state === 'closing' && !this.#withdrawing ? 'replies' : 'all'
  }
}

/**
 * A send that ends at its parent message's deadline: once it timed out, the parent has no time
 * left, whatever the clock says. A timer can fire before `performance.now()` reaches its
 * deadline (it counts from the event loop's cached time), and a send after it must not go out.
 * A hook the send calls as it fails, not a handler on it: this is not someone awaiting it.
 */
function expireWith(sent: SentMessage<any, any>, parent: HandlerContextImpl): void {
  sent[onFailure] = (error: unknown) => {
    if (error instanceof TimeoutError) parent.expire()
  }
}
