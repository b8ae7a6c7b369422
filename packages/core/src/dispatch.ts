import { diagnostics, endHandleTrace, type HandleTrace } from './diagnostics.js'
import { ERROR_REPLY, toWireError } from './error-reply.js'
import { ClosedError, ErrorCodes, ExoRelayError, HandlerError, ProtocolError } from './errors.js'
import { CANCEL, type ContextHost, HandlerContextImpl } from './handler-context.js'
import type { HandlerQueue } from './handler-queue.js'
import type { Logger } from './logger.js'
import type { ReceivedMessage } from './message-map.js'
import { isRefusal } from './payload-validation.js'
import type { PendingReplies } from './pending-replies.js'
import type { HandlerRegistry } from './registry.js'
import type { Handler } from './relay-types.js'
import { isThenable } from './send-arguments.js'
import type { SentMessage } from './sent-message.js'
import { validTraceparent, validTracestate } from './trace-context.js'
import type { Receipt } from './transport.js'

/**
 * What the relay's lifecycle lets in: everything (`'all'`); only replies, while closing once
 * the transport has withdrawn (`'replies'`); nothing once closed (`'none'`).
 */
export type Admission = 'all' | 'replies' | 'none'

/** The relay as the dispatcher and the handler contexts see it. */
export interface DispatchHost extends ContextHost {
  readonly serviceName: string
  sendReply(
    outcome: unknown,
    payload: unknown,
    responseTo: string,
    replyRoute?: unknown,
    parent?: HandlerContextImpl,
  ): SentMessage<void, undefined>
}

export interface DispatcherOptions {
  host: DispatchHost
  admission: () => Admission
  handlers: HandlerRegistry<Handler<any, any>>
  queue: HandlerQueue
  pending: PendingReplies
  /** Where replies go: the reply table, or the contract's checks in front of it. Default: `pending`. */
  replies?: { deliver(message: ReceivedMessage): boolean } | undefined
  log: Logger
}

const ACCEPTED: Receipt = Object.freeze({ status: 'accepted' })
const NOT_RUNNING = Object.freeze({ running: undefined, failed: false })

/**
 * Receiving: a reply goes to its waiter, a message to its handler (at once or through the
 * queue), and the transport gets a receipt saying what became of it.
 */
export class Dispatcher {
  readonly #host: DispatchHost
  readonly #admission: () => Admission
  readonly #handlers: HandlerRegistry<Handler<any, any>>
  readonly #queue: HandlerQueue
  readonly #pending: PendingReplies
  readonly #replies: { deliver(message: ReceivedMessage): boolean }
  readonly #log: Logger
  // The contexts of running handlers, by message id: what a cancellation and close() find.
  readonly #running = new Map<string, HandlerContextImpl>()
  // The requests waiting in the queue, by id, and whether their caller has cancelled them
  // meanwhile: a cancelled one is not run. At most `maxQueued` entries.
  readonly #queuedRequests = new Map<string, boolean>()

  constructor(options: DispatcherOptions) {
    this.#host = options.host
    this.#admission = options.admission
    this.#handlers = options.handlers
    this.#queue = options.queue
    this.#pending = options.pending
    this.#replies = options.replies ?? options.pending
    this.#log = options.log
  }

  /** The transport's `receive`: one receipt per message. */
  readonly receive = (message: ReceivedMessage, replyRoute?: unknown): Receipt => {
    const receipt = this.#dispatch(message, replyRoute)
    if (diagnostics.receive.hasSubscribers) {
      diagnostics.receive.publish({ serviceName: this.#host.serviceName, message, receipt })
    }
    return receipt
  }

  #dispatch(message: ReceivedMessage, replyRoute: unknown): Receipt {
    const { name, id, responseTo } = message
    const debug = this.#log.isLevelEnabled?.('debug') !== false
    const admission = this.#admission()
    if (name === CANCEL) return this.#cancel(message)
    // Replies are accepted while closing too: handlers finishing their work may wait for them.
    if (admission !== 'none' && this.#replies.deliver(message)) {
      if (debug) this.#log.debug({ messageName: name, messageId: id, responseTo }, 'reply received')
      return ACCEPTED
    }
    if (admission !== 'all') {
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
      // A reply after its sender gave up: nobody waits, and nothing is wrong with it.
      if (responseTo !== undefined && this.#pending.gaveUpOn(responseTo)) {
        if (debug) {
          this.#log.debug(
            { messageName: name, messageId: id, responseTo },
            'late reply: its sender no longer waited',
          )
        }
        return ACCEPTED
      }
      if (debug)
        this.#log.debug({ messageName: name, messageId: id, responseTo }, 'unknown message')
      return {
        status: 'unknown',
        error: new ProtocolError(ErrorCodes.UNKNOWN_MESSAGE, `unknown message: '${name}'`),
      }
    }
    // A deadline counts from arrival: time in the queue is time the sender waits.
    const arrived = performance.now()
    if (!this.#queue.hasCapacity) {
      if (!this.#queue.enqueue(() => this.#invokeQueued(handler, message, replyRoute, arrived))) {
        this.#log.warn(
          { messageName: name, messageId: id, responseTo },
          'overloaded: message refused',
        )
        return {
          status: 'unavailable',
          error: new ExoRelayError(
            ErrorCodes.OVERLOADED,
            `The relay is overloaded: ${this.#queue.running} handlers running, ${this.#queue.queued} messages queued; '${name}' was refused. Scale the service out, raise concurrency or maxQueued, or make its handlers faster.`,
          ),
        }
      }
      if (responseTo === undefined) this.#queuedRequests.set(id, false)
      if (debug) this.#log.debug({ messageName: name, messageId: id, responseTo }, 'queued')
      return ACCEPTED
    }
    if (debug) this.#log.debug({ messageName: name, messageId: id, responseTo }, 'received')
    const { running, failed, error } = this.#invoke(handler, message, replyRoute, arrived)
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

  /**
   * A caller no longer waits for its request: the handler running it (if any still runs here)
   * learns it through its signal. Accepted either way: a handler that ended has nothing to stop.
   */
  #cancel(message: ReceivedMessage): Receipt {
    const { id, responseTo } = message
    const running = responseTo === undefined ? undefined : this.#running.get(responseTo)
    if (running === undefined && responseTo !== undefined && this.#queuedRequests.has(responseTo)) {
      this.#queuedRequests.set(responseTo, true)
      if (this.#log.isLevelEnabled?.('debug') !== false) {
        this.#log.debug({ messageId: id, responseTo }, 'cancelled by the caller while queued')
      }
      return ACCEPTED
    }
    if (this.#log.isLevelEnabled?.('debug') !== false) {
      this.#log.debug(
        { messageId: id, responseTo, running: running !== undefined },
        running === undefined
          ? 'cancellation of a handler that is not running'
          : 'cancelled by the caller',
      )
    }
    running?.cancel()
    return ACCEPTED
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
    arrived: number,
  ): { running: Promise<unknown> | undefined; failed: boolean; error?: unknown } {
    const context = new HandlerContextImpl(this.#host, message, replyRoute, arrived, this.#running)
    const trace = this.#startTrace(message, context)
    let result: unknown
    try {
      result =
        trace?.runHandler === undefined
          ? handler(message.payload, context)
          : trace.runHandler(() => handler(message.payload, context))
    } catch (error) {
      context.finish()
      if (trace !== undefined) endHandleTrace(trace, context, true, error)
      this.#failedIn(trace, message, replyRoute, error, context)
      return { running: undefined, failed: true, error }
    }
    if (!isThenable(result)) {
      context.finish()
      if (trace !== undefined) endHandleTrace(trace, context, true)
      return NOT_RUNNING
    }
    context.start()
    if (trace !== undefined) {
      trace.async = true
      diagnostics.handleTracing.end.publish(trace)
    }
    return {
      running: Promise.resolve(result).then(
        () => {
          context.finish()
          if (trace !== undefined) endHandleTrace(trace, context, false)
        },
        (error: unknown) => {
          context.finish()
          if (trace !== undefined) endHandleTrace(trace, context, false, error)
          this.#failedIn(trace, message, replyRoute, error, context)
        },
      ),
      failed: false,
    }
  }

  /** A handler failed: its error reply goes out as the handler's would, in its tracer's context. */
  #failedIn(
    trace: HandleTrace | undefined,
    message: ReceivedMessage,
    replyRoute: unknown,
    error: unknown,
    context: HandlerContextImpl,
  ): void {
    const fail = () => this.#handlerFailed(message, replyRoute, error, context)
    if (trace?.runHandler === undefined) fail()
    else trace.runHandler(fail)
  }

  /**
   * Publishes the start of a handler run on `exorelay:handle` when a tracer listens. The
   * tracer may give the handler its own trace context (its span's) and a way to run it.
   */
  #startTrace(message: ReceivedMessage, context: HandlerContextImpl): HandleTrace | undefined {
    if (!diagnostics.handleTracing.start.hasSubscribers) return undefined
    const trace: HandleTrace = { serviceName: this.#host.serviceName, message }
    diagnostics.handleTracing.start.publish(trace)
    // Checked as if it came over the wire: a subscriber's mistake must not reach the bus.
    const traceparent = validTraceparent(trace.traceparent)
    if (traceparent !== undefined) {
      context.continueTrace(traceparent, validTracestate(trace.tracestate, traceparent))
    }
    return trace
  }

  /**
   * Runs a message that waited in the queue, unless its caller cancelled it or its deadline
   * passed meanwhile: its sender waits no longer, so the work would be for nobody.
   */
  #invokeQueued(
    handler: Handler<any, any>,
    message: ReceivedMessage,
    replyRoute: unknown,
    arrived: number,
  ): Promise<unknown> | undefined {
    const { name, id, responseTo, timeout } = message
    const cancelled = this.#queuedRequests.get(id) === true
    this.#queuedRequests.delete(id)
    if (cancelled) {
      this.#log.debug(
        { messageName: name, messageId: id, responseTo },
        'not handled: its caller cancelled it while it waited in the queue',
      )
      return undefined
    }
    if (typeof timeout === 'number' && timeout > 0 && performance.now() - arrived >= timeout) {
      this.#log.warn(
        { messageName: name, messageId: id, responseTo, timeout },
        `not handled: its deadline of ${timeout} ms passed while it waited in the queue`,
      )
      return undefined
    }
    return this.#invoke(handler, message, replyRoute, arrived).running
  }

  /** `close()` gives up on the running handlers: their signals abort. */
  abortRunning(): void {
    for (const context of [...this.#running.values()]) context.closing()
  }

  #handlerFailed(
    message: ReceivedMessage,
    replyRoute: unknown,
    error: unknown,
    context: HandlerContextImpl,
  ): void {
    const { name, id, responseTo } = message
    if (diagnostics.handlerError.hasSubscribers) {
      diagnostics.handlerError.publish({ serviceName: this.#host.serviceName, message, error })
    }
    // The caller stopped waiting (the deadline passed, it cancelled, or close() gave up): the
    // failure is most likely the stop itself, and an error reply would reach nobody.
    if (context.stopped !== undefined || context.timeLeft() === 0) {
      this.#log.warn(
        { err: error, messageName: name, messageId: id, responseTo },
        'handler failed after its caller stopped waiting',
      )
      return
    }
    if (isRefusal(error)) {
      // The sender's fault, not this service's: no stack, the issues say what to fix. Any
      // other PayloadInvalidError (of the handler's own send or reply) is the handler's failure.
      this.#log.warn(
        {
          messageName: name,
          messageId: id,
          responseTo,
          issues: error.issues,
        },
        'payload invalid: refused',
      )
    } else {
      this.#log.error(
        { err: error, messageName: name, messageId: id, responseTo },
        'handler failed',
      )
    }
    // Only requests get error replies: a reply to a reply would find nobody waiting for it.
    if (responseTo === undefined && this.#admission() !== 'none') {
      // With the handler's trace context, so that a tracer sees the error reply in its trace.
      this.#host.sendReply(
        ERROR_REPLY,
        toWireError(error, this.#host.serviceName),
        id,
        replyRoute,
        context,
      )
    }
  }
}
