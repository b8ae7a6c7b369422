import {
  ClosedError,
  ErrorCodes,
  isExoRelayError,
  type Logger,
  TimeoutError,
  type Timers,
} from '@exorelay/core'
import { ERROR_CODE_HEADER } from '@exorelay/http-protocol'
import type { Dispatcher } from 'undici'
import {
  BODY_READ_LIMIT,
  bodyText,
  countAttempts,
  describeCause,
  isUndiciTimeout,
  timeoutMessage,
  unreachableError,
} from './bus-errors.js'
import { hasDeadlineTimer, undiciTimeout } from './deadline.js'
import { isNeverWritten, retryDelay } from './retry.js'

/** One request to ExoCom. */
export interface ExchangeRequest {
  readonly method: 'POST' | 'PUT' | 'DELETE'
  readonly path: string
  readonly body: string | undefined
  readonly headers: Readonly<Record<string, string>>
  /** What errors call it: `the message 'users.create'`. A function: built only for an error. */
  readonly subject: () => string
  /**
   * Bytes of a 2xx answer's body to read, for requests whose answer says something (a
   * registration, a batch). Without it a 2xx body is not read.
   */
  readonly answerLimit?: number | undefined
  /**
   * The body to send when a refused connection is tried again, if it may have changed since
   * (a batch leaves out the messages that gave up meanwhile: they must never be written).
   */
  readonly retryBody?: (() => string) | undefined
}

/** What ExoCom answered. */
export interface Answer {
  readonly status: number
  readonly errorCode: string | undefined
  /** The start of a non-2xx answer's body, as errors quote it. */
  readonly bodyStart: string
  /** A 2xx answer's body, up to the request's `answerLimit` bytes; `''` when not read. */
  readonly body: string
}

/** An exchange as close() sees it: something it can tell to give up. */
export interface Abandonable {
  abandon(): void
}

/** What the exchanges of one sender share with it. */
export interface ExchangeContext {
  readonly origin: string
  readonly dispatcher: Dispatcher
  readonly timers: Timers
  readonly retryBudget: number
  readonly log: Logger
  /** True once the sender is closing: a refused connection is then not tried again. */
  closing(): boolean
  /** ExoCom answered something (`true`), or proved unreachable (`false`). */
  reached(reachable: boolean): void
  /** The exchange waits to retry (`true`), or stopped waiting (`false`); close() wakes it. */
  retrying(exchange: Abandonable, waiting: boolean): void
  /** The exchange settled. Called exactly once per exchange. */
  settled(): void
}

/**
 * One request to ExoCom from start to settlement, as an undici dispatch handler: no response
 * stream, no abort controller, no promise per stage. It settles exactly once, with what
 * `interpret` makes of ExoCom's answer, or with the failure:
 *
 * - Its deadline is one timer from the start, covering the wait for a pooled connection, the
 *   connect, the answer, and any backoff between retries. undici's own `headersTimeout` and
 *   `bodyTimeout` start only once the request is written and restart at each stage, so they
 *   cannot bound the whole; they are still set no longer than the deadline, so undici never
 *   waits past it on its own. A request the deadline (or the caller's signal, or close)
 *   settled before it reached a socket is aborted there and never written.
 * - The caller's signal is watched only when there is one, and rejects with its own `reason`.
 * - The timeout error is built when the deadline passes, not per request: the relay's own
 *   deadline error already carries the caller's stack.
 * - A refused connection (nothing was written) is tried again within the retry budget;
 *   anything else may have reached ExoCom and is never sent twice.
 * - `started` (a `performance.now()` time) is given for a message that waited for a batch
 *   and then goes alone (a batch of one, or a batch ExoCom did not take): its deadline and its
 *   retry budget count from its `send()`, not from now. A batch's own request gets what is
 *   left of the latest deadline among its messages as its timeout.
 */
export class Exchange<T> implements Dispatcher.DispatchHandler, Abandonable {
  readonly promise: Promise<T>
  readonly #context: ExchangeContext
  readonly #request: ExchangeRequest
  readonly #interpret: (answer: Answer) => T
  readonly #timeout: number
  readonly #signal: AbortSignal | undefined
  readonly #options: Dispatcher.DispatchOptions
  readonly #started: number
  #resolve!: (value: T) => void
  #reject!: (reason: unknown) => void
  #settled = false
  /** Why the exchange gave up, for aborting a request that reaches its socket afterwards. */
  #abandoned: unknown
  #controller: Dispatcher.DispatchController | undefined
  #deadline: unknown
  #onAbort: (() => void) | undefined
  #backoff: unknown
  #attempts = 1
  #refusal: unknown
  #status = 0
  #errorCode: string | undefined
  #chunks: Buffer[] | undefined
  #size = 0

  constructor(
    context: ExchangeContext,
    request: ExchangeRequest,
    timeout: number,
    signal: AbortSignal | undefined,
    interpret: (answer: Answer) => T,
    started?: number,
  ) {
    this.#context = context
    this.#request = request
    this.#interpret = interpret
    this.#timeout = timeout
    this.#signal = signal
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    const options: Dispatcher.DispatchOptions = {
      origin: context.origin,
      path: request.path,
      method: request.method,
      headers: request.headers,
    }
    if (request.body !== undefined) options.body = request.body
    const now = performance.now()
    this.#started = started ?? now
    const remaining = started === undefined ? timeout : timeout - (now - started)
    const limit = undiciTimeout(remaining)
    if (limit !== undefined) {
      options.headersTimeout = limit
      options.bodyTimeout = limit
    }
    this.#options = options
    if (signal !== undefined) {
      // Exactly the caller's reason, so the relay recognises its own abort.
      this.#onAbort = () => this.#fail(signal.reason)
      signal.addEventListener('abort', this.#onAbort)
    }
    if (hasDeadlineTimer(remaining)) {
      this.#deadline = context.timers.setTimeout(this.#onDeadline, remaining)
    }
    this.#dispatch()
  }

  /**
   * Gives up with `reason`: nobody waits for the answer any more. A request not yet written is
   * never written; one on its socket is dropped.
   */
  cancel(reason: unknown): void {
    this.#fail(reason)
  }

  /** The sender is closing while this exchange waits to retry: it gives up at once. */
  abandon(): void {
    this.#fail(
      new ClosedError(
        ErrorCodes.CLOSED,
        `The sender was closed while it retried ${this.#request.subject()} (${countAttempts(this.#attempts)} refused).`,
        { cause: this.#refusal },
      ),
    )
  }

  // --- undici's dispatch handler ---

  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.#settled) {
      // Settled while it waited for a connection: it must never be written.
      controller.abort(this.#abandoned as Error)
      return
    }
    this.#controller = controller
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    this.#context.reached(true)
    // 1xx answers are informational: the real one follows.
    if (statusCode < 200) return
    this.#status = statusCode
    if (statusCode >= 300) {
      const code = headers[ERROR_CODE_HEADER]
      this.#errorCode = Array.isArray(code) ? code[0] : code
      this.#chunks = []
    } else if (this.#request.answerLimit !== undefined) {
      this.#chunks = []
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    // A 2xx body is read only when asked for; otherwise undici consumes it, which keeps the
    // connection alive.
    const chunks = this.#chunks
    if (chunks === undefined) return
    chunks.push(chunk)
    this.#size += chunk.length
    const limit = this.#status >= 300 ? BODY_READ_LIMIT : (this.#request.answerLimit ?? 0)
    if (this.#size >= limit) {
      // Enough to say why (or more than any answer the sender understands); a misdirected
      // port may stream a huge page. Stop reading it.
      this.#answer()
      controller.abort(new Error('The answer is longer than the sender reads.'))
    }
  }

  onResponseEnd(): void {
    this.#answer()
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    this.#controller = undefined
    if (this.#settled) return
    if (isUndiciTimeout(error)) {
      this.#fail(new TimeoutError(this.#timeoutMessage(), this.#timeout, { cause: error }))
      return
    }
    if (isExoRelayError(error)) {
      this.#fail(error)
      return
    }
    if (!isNeverWritten(error)) {
      // It may have arrived: sending it again could deliver it twice.
      this.#context.reached(false)
      this.#fail(unreachableError(this.#context.origin, error))
      return
    }
    const attempt = this.#attempts
    const retryIn = retryDelay(attempt)
    if (performance.now() - this.#started + retryIn > this.#context.retryBudget) {
      this.#context.reached(false)
      this.#fail(unreachableError(this.#context.origin, error, attempt))
      return
    }
    this.#context.log.debug(
      { attempt, retryIn, err: error },
      'ExoCom refused the connection; retrying',
    )
    this.#refusal = error
    if (this.#context.closing()) {
      this.abandon()
      return
    }
    this.#backoff = this.#context.timers.setTimeout(() => this.#retry(), retryIn)
    this.#context.retrying(this, true)
  }

  // --- settling ---

  #dispatch(): void {
    try {
      this.#context.dispatcher.dispatch(this.#options, this)
    } catch (error) {
      // undici reports its own failures to the handler; a custom dispatcher may throw.
      this.onResponseError(undefined, error as Error)
    }
  }

  #retry(): void {
    this.#backoff = undefined
    this.#context.retrying(this, false)
    this.#attempts++
    const { retryBody } = this.#request
    if (retryBody !== undefined) this.#options.body = retryBody()
    this.#dispatch()
  }

  readonly #onDeadline = (): void => {
    this.#deadline = undefined
    const message = this.#timeoutMessage()
    if (this.#backoff === undefined) {
      this.#fail(new TimeoutError(message, this.#timeout))
      return
    }
    // The deadline passed while refused connections were being retried: say why.
    const refusal = this.#refusal
    this.#fail(
      new TimeoutError(
        `${message.slice(0, -1)}: ${countAttempts(this.#attempts)} to connect failed (${describeCause(refusal)}).`,
        this.#timeout,
        { cause: refusal },
      ),
    )
  }

  #timeoutMessage(): string {
    return timeoutMessage(this.#request.subject(), this.#timeout)
  }

  #answer(): void {
    if (this.#settled) return
    const chunks = this.#chunks
    const status = this.#status
    let value: T
    try {
      value = this.#interpret({
        status,
        errorCode: this.#errorCode,
        bodyStart: chunks === undefined || status < 300 ? '' : bodyText(chunks, this.#size),
        body:
          chunks === undefined || status >= 300
            ? ''
            : Buffer.concat(chunks, this.#size).toString('utf8'),
      })
    } catch (error) {
      this.#fail(error)
      return
    }
    if (this.#settle()) this.#resolve(value)
  }

  #fail(reason: unknown): void {
    if (!this.#settle()) return
    this.#abandoned = reason
    this.#reject(reason)
    const controller = this.#controller
    this.#controller = undefined
    // Drops the request if it is on a socket; undici then reports it to onResponseError,
    // which finds the exchange settled.
    controller?.abort(reason as Error)
  }

  #settle(): boolean {
    if (this.#settled) return false
    this.#settled = true
    const { timers } = this.#context
    if (this.#deadline !== undefined) timers.clearTimeout(this.#deadline)
    if (this.#backoff !== undefined) {
      timers.clearTimeout(this.#backoff)
      this.#backoff = undefined
      this.#context.retrying(this, false)
    }
    if (this.#onAbort !== undefined) this.#signal?.removeEventListener('abort', this.#onAbort)
    this.#context.settled()
    return true
  }
}
