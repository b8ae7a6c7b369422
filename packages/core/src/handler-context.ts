import { MAX_MESSAGE_TIMEOUT } from './envelope.js'
import { AbortError, ClosedError, ErrorCodes, TimeoutError } from './errors.js'
import type { Logger } from './logger.js'
import type { ReceivedMessage } from './message-map.js'
import type { SendFunction } from './relay-types.js'
import type { SentMessage } from './sent-message.js'
import { traceIdOf } from './trace-context.js'

/**
 * The reserved name of a cancellation: a message whose `responseTo` names a request its sender
 * no longer waits for (issue 15). Like `__error`, it has no dot, so namespace translation
 * passes it unchanged, and it goes only to relays that declared they understand it.
 */
export const CANCEL = '__cancel'

/** What a handler context needs of its relay. */
export interface ContextHost {
  readonly log: Logger
  /** The relay's send, as a handler's: it inherits the deadline and trace of `parent`. */
  sendFrom(
    parent: HandlerContextImpl,
    name: unknown,
    payload: unknown,
    third: unknown,
    fourth: unknown,
  ): SentMessage<any, any>
  sendReply(
    outcome: unknown,
    payload: unknown,
    responseTo: string,
    replyRoute: unknown,
    parent: HandlerContextImpl,
  ): SentMessage<void, undefined>
}

/**
 * The `ctx` a handler gets. A class, so that each message costs one small object; its signal,
 * logger and send are made only when the handler asks for them, so a handler that uses none
 * costs no timer, controller or child logger.
 */
export class HandlerContextImpl {
  readonly name: string
  readonly id: string
  readonly responseTo: string | undefined
  readonly sender: string | undefined
  #traceparent: string | undefined
  #tracestate: string | undefined
  readonly #host: ContextHost
  readonly #replyRoute: unknown
  // The deadline on the monotonic clock, which timers use.
  readonly #due: number | undefined
  #epochDeadline: number | undefined
  readonly #timeout: number
  // The contexts whose handlers run, by message id: what a cancellation and close() find.
  readonly #running: Map<string, HandlerContextImpl>
  #controller: AbortController | undefined
  // Aborted on a cancellation or by close(), not at the deadline: the handler's own sends
  // follow it, and end at the deadline by their timeout (a TimeoutError, not an abort).
  #stop: AbortController | undefined
  #stopped: Error | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #send: SendFunction<any> | undefined
  #log: Logger | undefined
  #finished = false
  #replied = false
  // Set when the deadline timer fired: timers run on a coarser clock than performance.now(),
  // and may fire a fraction of a millisecond early; from then on no time is left.
  #expired = false

  constructor(
    host: ContextHost,
    message: ReceivedMessage,
    replyRoute: unknown,
    arrived: number,
    running: Map<string, HandlerContextImpl>,
  ) {
    this.#host = host
    this.#replyRoute = replyRoute
    this.#running = running
    this.name = message.name
    this.id = message.id
    this.responseTo = message.responseTo
    this.sender = message.sender
    this.#traceparent = message.traceparent
    this.#tracestate = message.tracestate
    // Only what parseEnvelope keeps: a transport that hands messages over unchecked must not
    // make a `null` or an endless deadline mean "already passed".
    const timeout = message.timeout
    const valid = typeof timeout === 'number' && timeout > 0 && timeout <= MAX_MESSAGE_TIMEOUT
    this.#timeout = valid ? timeout : 0
    if (valid) {
      this.#due = arrived + timeout
    }
  }

  /** W3C Trace Context of the message, or of the tracer's span for it (`continueTrace`). */
  get traceparent(): string | undefined {
    return this.#traceparent
  }

  get tracestate(): string | undefined {
    return this.#tracestate
  }

  /**
   * @internal A tracer made a span for this message: the handler and its sends go on from it
   * (and `log`, made when first asked, binds its trace id).
   */
  continueTrace(traceparent: string, tracestate: string | undefined): void {
    this.#traceparent = traceparent
    this.#tracestate = tracestate
  }

  /**
   * When the sender stops waiting (epoch ms), from the message's `timeout`; else undefined.
   * Worked out when asked, from the monotonic deadline the timers use: most handlers never
   * ask, and it costs them no clock read.
   */
  get deadline(): number | undefined {
    if (this.#due === undefined) return undefined
    this.#epochDeadline ??= Date.now() + this.#due - performance.now()
    return this.#epochDeadline
  }

  /** Milliseconds until the deadline (0 once it passed); `Infinity` without one. */
  timeLeft = (): number => {
    if (this.#due === undefined) return Infinity
    return this.#expired ? 0 : Math.max(0, this.#due - performance.now())
  }

  /**
   * Aborted when the message's deadline passes (reason: a `TimeoutError`), when its caller
   * cancels (an `AbortError`), or when `close()` gives up on the handler (a `ClosedError`).
   * Pass it on to `fetch`, database drivers and the like.
   */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#stopped !== undefined) this.#controller.abort(this.#stopped)
      else if (!this.#finished) {
        const left = this.timeLeft()
        if (left === 0) this.#abort(this.#deadlinePassed())
        else if (left !== Infinity) {
          this.#timer = setTimeout(() => {
            this.#expired = true
            this.#abort(this.#deadlinePassed())
          }, left)
          this.#timer.unref?.()
        }
      }
    }
    return this.#controller.signal
  }

  /** A logger bound to the message's name, id and trace id. */
  get log(): Logger {
    if (this.#log === undefined) {
      const bindings: Record<string, string> = { messageName: this.name, messageId: this.id }
      if (this.traceparent !== undefined) bindings.traceId = traceIdOf(this.traceparent)
      this.#log = this.#host.log.child(bindings)
    }
    return this.#log
  }

  /**
   * The relay's send, inheriting from this message: its timeout is at most the time this
   * message has left (none left: it rejects at once with a `TimeoutError`, sending nothing),
   * and it carries this message's trace context.
   */
  get send(): SendFunction<any> {
    this.#send ??= ((name: unknown, payload?: unknown, third?: unknown, fourth?: unknown) =>
      this.#host.sendFrom(this, name, payload, third, fourth)) as SendFunction<any>
    return this.#send
  }

  reply = (outcome: unknown, payload?: unknown): SentMessage<void, undefined> => {
    this.#replied = true
    return this.#host.sendReply(outcome, payload, this.id, this.#replyRoute, this)
  }

  /**
   * @internal Aborted when the caller cancels or `close()` gives up, for the handler's own
   * sends; `undefined` reason while it runs on.
   */
  get stopSignal(): AbortSignal {
    if (this.#stop === undefined) {
      this.#stop = new AbortController()
      if (this.#stopped !== undefined) this.#stop.abort(this.#stopped)
    }
    return this.#stop.signal
  }

  /**
   * @internal The signal a send of this handler that waits for a reply obeys: its own
   * `signal`, if any, and this handler's stop (a cancellation of its message cancels what the
   * handler waits for).
   */
  stopsWith(signal: AbortSignal | undefined): AbortSignal {
    return signal === undefined ? this.stopSignal : AbortSignal.any([signal, this.stopSignal])
  }

  /**
   * @internal Why the handler's work is for nobody, if it is: cancelled, the relay closing,
   * or its deadline passed.
   */
  stopReason(): Error | undefined {
    if (this.#stopped !== undefined) return this.#stopped
    // A handler that replied did its work for someone, even if it ran on past the deadline.
    if (this.#replied || this.#due === undefined || this.timeLeft() > 0) return undefined
    return this.#deadlinePassed()
  }

  /** @internal Why the handler was told to stop (cancelled, or the relay closing), if it was. */
  get stopped(): Error | undefined {
    return this.#stopped
  }

  /** @internal The handler runs: a cancellation of its message finds it. */
  start(): void {
    this.#running.set(this.id, this)
  }

  /** @internal The handler has settled: its deadline timer is not needed any more. */
  finish(): void {
    this.#finished = true
    clearTimeout(this.#timer)
    if (this.#running.get(this.id) === this) this.#running.delete(this.id)
  }

  /** @internal A send that ended at this message's deadline timed out: no time is left. */
  expire(): void {
    if (this.#expired || this.#finished) return
    this.#expired = true
    if (this.#stopped === undefined) this.#abort(this.#deadlinePassed())
  }

  /** @internal The caller no longer waits: it aborted its send. */
  cancel(): void {
    this.#stopWith(
      new AbortError(
        ErrorCodes.ABORTED,
        `The caller cancelled '${this.name}' (id ${this.id}): it no longer waits for a reply.`,
      ),
    )
  }

  /** @internal `close()` gives up on the handler. */
  closing(): void {
    this.#stopWith(
      new ClosedError(
        ErrorCodes.CLOSED,
        `The relay closed while the handler for '${this.name}' (id ${this.id}) still ran.`,
      ),
    )
  }

  #stopWith(reason: Error): void {
    if (this.#stopped !== undefined || this.#finished) return
    this.#stopped = reason
    this.#stop?.abort(reason)
    this.#abort(reason)
  }

  /** @internal The error a send from this handler rejects with once the deadline passed. */
  deadlinePassedFor(name: string): TimeoutError {
    return new TimeoutError(
      `'${name}' was not sent: the deadline of '${this.name}' (id ${this.id}) passed, and its caller waits no longer.`,
      this.#timeout,
    )
  }

  #deadlinePassed(): TimeoutError {
    return new TimeoutError(
      `The deadline of '${this.name}' (id ${this.id}) passed: its caller waits no longer.`,
      this.#timeout,
    )
  }

  #abort(reason: Error): void {
    clearTimeout(this.#timer)
    if (this.#controller !== undefined && !this.#controller.signal.aborted) {
      this.#controller.abort(reason)
    }
  }
}
