import { ClosedError, ErrorCodes, TimeoutError } from './errors.js'
import type { Logger } from './logger.js'
import type { ReceivedMessage } from './message-map.js'
import type { SendFunction } from './relay-types.js'
import type { SentMessage } from './sent-message.js'
import { traceIdOf } from './trace-context.js'

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
  /** When the sender stops waiting (epoch ms), from the message's `timeout`; else undefined. */
  readonly deadline: number | undefined
  readonly traceparent: string | undefined
  readonly tracestate: string | undefined
  readonly #host: ContextHost
  readonly #replyRoute: unknown
  // The deadline on the monotonic clock, which timers use.
  readonly #due: number | undefined
  readonly #timeout: number
  // Contexts whose signal exists and whose handler still runs: what close() aborts.
  readonly #live: Set<HandlerContextImpl>
  #controller: AbortController | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #send: SendFunction<any> | undefined
  #log: Logger | undefined
  #finished = false
  // Set when the deadline timer fired: timers run on a coarser clock than performance.now(),
  // and may fire a fraction of a millisecond early; from then on no time is left.
  #expired = false

  constructor(
    host: ContextHost,
    message: ReceivedMessage,
    replyRoute: unknown,
    arrived: number,
    live: Set<HandlerContextImpl>,
  ) {
    this.#host = host
    this.#replyRoute = replyRoute
    this.#live = live
    this.name = message.name
    this.id = message.id
    this.responseTo = message.responseTo
    this.sender = message.sender
    this.traceparent = message.traceparent
    this.tracestate = message.tracestate
    this.#timeout = message.timeout ?? 0
    if (message.timeout !== undefined) {
      this.#due = arrived + message.timeout
      this.deadline = Date.now() + this.#due - performance.now()
    }
  }

  /** Milliseconds until the deadline (0 once it passed); `Infinity` without one. */
  timeLeft(): number {
    if (this.#due === undefined) return Infinity
    return this.#expired ? 0 : Math.max(0, this.#due - performance.now())
  }

  /**
   * Aborted when the message's deadline passes (reason: a `TimeoutError`) or when `close()`
   * gives up on the handler (a `ClosedError`). Pass it on to `fetch`, database drivers and
   * the like.
   */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (!this.#finished) {
        this.#live.add(this)
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

  reply = (outcome: unknown, payload?: unknown): SentMessage<void, undefined> =>
    this.#host.sendReply(outcome, payload, this.id, this.#replyRoute, this)

  /** @internal The handler has settled: its deadline timer is not needed any more. */
  finish(): void {
    this.#finished = true
    clearTimeout(this.#timer)
    this.#live.delete(this)
  }

  /** @internal `close()` gives up on the handler. */
  closing(): void {
    this.#abort(
      new ClosedError(
        ErrorCodes.CLOSED,
        `The relay closed while the handler for '${this.name}' (id ${this.id}) still ran.`,
      ),
    )
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
    this.#live.delete(this)
    if (this.#controller !== undefined && !this.#controller.signal.aborted) {
      this.#controller.abort(reason)
    }
  }
}
