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
  answerText,
  BODY_READ_LIMIT,
  countAttempts,
  describeCause,
  isUndiciTimeout,
  timeoutMessage,
  unreachableError,
} from './bus-errors.js'
import { hasDeadlineTimer, undiciTimeout } from './deadline.js'
import { isNeverWritten, retryDelay } from './retry.js'

/** One request to a peer: ExoCom for the relay's sender, a receiver for the bus. */
export interface ExchangeRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  readonly path: string
  readonly body: string | undefined
  readonly headers: Readonly<Record<string, string>>
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

/** What the peer answered, as the shared exchange reads it. */
export interface RawAnswer {
  readonly status: number
  /** The `exorelay-error-code` header of a non-2xx answer. */
  readonly errorCode: string | undefined
  /**
   * What was read of the body: of a non-2xx answer up to `BODY_READ_LIMIT` bytes, of a 2xx
   * answer up to the request's `answerLimit` (else `''`).
   */
  readonly body: string
  /** The body reached its read limit: the rest was not read and the request was dropped. */
  readonly cut: boolean
}

/**
 * Why an exchange failed, for its owner to turn into an error (the sender) or a log line (the
 * bus). `refused` counts the refused connections when the failure came while retrying them.
 * - `timeout`: the deadline passed (`cause` is the last refusal while retrying, else
 *   `undefined`), or undici's own headers/body timeout fired (`cause` is its error).
 * - `unreachable`: no answer came; `cause` is the low-level error.
 * - `closed`: the owner closed while the exchange waited to retry; `cause` is the refusal.
 * - `reason`: given up with `cause` as is (the caller's signal, `cancel()`, a coded error).
 */
export interface Failure {
  readonly kind: 'timeout' | 'unreachable' | 'closed' | 'reason'
  readonly cause: unknown
  readonly refused: number
}

/** What the sender's exchanges settle with. */
export interface Answer {
  readonly status: number
  readonly errorCode: string | undefined
  /** The start of a non-2xx answer's body, as errors quote it. */
  readonly bodyStart: string
  /** A 2xx answer's body, up to the request's `answerLimit` bytes; `''` when not read. */
  readonly body: string
}

/** What the exchanges to one peer share with their owner (a sender, a bus's receiver). */
export interface ExchangeContext {
  readonly origin: string
  readonly dispatcher: Dispatcher
  readonly timers: Timers
  /** Milliseconds a refused connection is tried again, from the exchange's start; `0`: never. */
  readonly retryBudget: number
  readonly log: Logger
  /**
   * The dispatcher's own `headersTimeout`/`bodyTimeout`: a request's are never longer.
   * Default: undici's (300 s).
   */
  readonly dispatcherTimeout?: number | undefined
  /** True once the owner is closing: a refused connection is then not tried again. */
  closing?(): boolean
  /**
   * The peer answered something (`true`, with the answer's status), or proved unreachable
   * (`false`). Called while undici handles the response: it must not throw.
   */
  reached?(reachable: boolean, status?: number): void
  /** The exchange waits to retry (`true`), or stopped waiting (`false`); close() wakes it. */
  retrying?(exchange: Abandonable, waiting: boolean): void
  /** The exchange settled, after its outcome was handled. Called exactly once per exchange. */
  settled?(): void
}

/** An exchange as close() sees it: something it can tell to give up. */
export interface Abandonable {
  abandon(): void
}

/**
 * One request to a peer from start to settlement, as an undici dispatch handler: no response
 * stream, no abort controller, no promise per stage. Shared by the relay's sender and the
 * bus's deliveries; each subclass says what an answer and a failure mean (`answered`,
 * `failed`), and starts the request with `start()` once it is complete. It settles exactly
 * once:
 *
 * - Its deadline is one timer from the start, covering the wait for a pooled connection, the
 *   connect, the answer, and any backoff between retries. undici's own `headersTimeout` and
 *   `bodyTimeout` start only once the request is written and restart at each stage, so they
 *   cannot bound the whole; they are still set no longer than the deadline, so undici never
 *   waits past it on its own. A request the deadline (or the signal, or close) settled before
 *   it reached a socket is aborted there and never written.
 * - The signal is watched only when there is one, and fails with its own `reason`.
 * - A non-2xx body is read up to `BODY_READ_LIMIT` bytes, a 2xx body up to the request's
 *   `answerLimit` (else not at all); an answer that reaches its limit is cut off there and its
 *   request dropped, so a misdirected port cannot stream into the process.
 * - A refused connection (nothing was written) is tried again within the retry budget (`0`:
 *   never); anything else may have reached the peer and is never sent twice.
 * - `started` (a `performance.now()` time) is given for a message that waited for a batch
 *   and then goes alone: its deadline and its retry budget count from then, not from now.
 */
export abstract class UndiciExchange implements Dispatcher.DispatchHandler, Abandonable {
  protected readonly context: ExchangeContext
  protected readonly request: ExchangeRequest
  protected readonly timeout: number
  readonly #signal: AbortSignal | undefined
  readonly #started: number
  readonly #remaining: number
  #options: Dispatcher.DispatchOptions | undefined
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
    started?: number,
  ) {
    this.context = context
    this.request = request
    this.timeout = timeout
    this.#signal = signal
    const now = performance.now()
    this.#started = started ?? now
    this.#remaining = started === undefined ? timeout : timeout - (now - started)
  }

  /** The peer answered (any final status). Called at most once, after the exchange settled. */
  protected abstract answered(answer: RawAnswer): void

  /**
   * The exchange failed. Called at most once, after it settled. Returns what a request still
   * on its socket (or reaching one later) is aborted with.
   */
  protected abstract failed(failure: Failure): unknown

  /** Sends the request. Called by a subclass once it is complete: undici may answer at once. */
  protected start(): void {
    const { context, request } = this
    const options: Dispatcher.DispatchOptions = {
      origin: context.origin,
      path: request.path,
      method: request.method,
      headers: request.headers,
    }
    if (request.body !== undefined) options.body = request.body
    const remaining = this.#remaining
    const limit = undiciTimeout(remaining, context.dispatcherTimeout)
    if (limit !== undefined) {
      options.headersTimeout = limit
      options.bodyTimeout = limit
    }
    this.#options = options
    const signal = this.#signal
    if (signal !== undefined) {
      // Exactly the caller's reason, so the relay recognises its own abort.
      this.#onAbort = () => this.#fail({ kind: 'reason', cause: signal.reason, refused: 0 })
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
    this.#fail({ kind: 'reason', cause: reason, refused: 0 })
  }

  /** The owner is closing while this exchange waits to retry: it gives up at once. */
  abandon(): void {
    this.#fail({ kind: 'closed', cause: this.#refusal, refused: this.#attempts })
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
    this.context.reached?.(true, statusCode)
    // 1xx answers are informational: the real one follows.
    if (statusCode < 200) return
    this.#status = statusCode
    if (statusCode >= 300) {
      const code = headers[ERROR_CODE_HEADER]
      this.#errorCode = Array.isArray(code) ? code[0] : code
      this.#chunks = []
    } else if (this.request.answerLimit !== undefined) {
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
    const limit = this.#status >= 300 ? BODY_READ_LIMIT : (this.request.answerLimit ?? 0)
    if (this.#size >= limit) {
      // Enough to say why (or more than any answer the owner understands); a misdirected
      // port may stream a huge page. Stop reading it.
      this.#answer(true)
      controller.abort(new Error('The answer is longer than the client reads.'))
    }
  }

  onResponseEnd(): void {
    this.#answer(false)
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    this.#controller = undefined
    if (this.#settled) return
    if (isUndiciTimeout(error)) {
      this.#fail({ kind: 'timeout', cause: error, refused: 0 })
      return
    }
    if (isExoRelayError(error)) {
      this.#fail({ kind: 'reason', cause: error, refused: 0 })
      return
    }
    const { context } = this
    if (!isNeverWritten(error)) {
      // It may have arrived: sending it again could deliver it twice.
      context.reached?.(false)
      this.#fail({ kind: 'unreachable', cause: error, refused: 0 })
      return
    }
    const attempt = this.#attempts
    const retryIn = retryDelay(attempt)
    if (performance.now() - this.#started + retryIn > context.retryBudget) {
      context.reached?.(false)
      this.#fail({ kind: 'unreachable', cause: error, refused: attempt })
      return
    }
    context.log.debug({ attempt, retryIn, err: error }, 'ExoCom refused the connection; retrying')
    this.#refusal = error
    if (context.closing?.() === true) {
      this.abandon()
      return
    }
    this.#backoff = context.timers.setTimeout(() => this.#retry(), retryIn)
    context.retrying?.(this, true)
  }

  // --- settling ---

  #dispatch(): void {
    try {
      this.context.dispatcher.dispatch(this.#options as Dispatcher.DispatchOptions, this)
    } catch (error) {
      // undici reports its own failures to the handler; a custom dispatcher may throw.
      this.onResponseError(undefined, error as Error)
    }
  }

  #retry(): void {
    this.#backoff = undefined
    this.context.retrying?.(this, false)
    this.#attempts++
    const { retryBody } = this.request
    if (retryBody !== undefined) (this.#options as Dispatcher.DispatchOptions).body = retryBody()
    this.#dispatch()
  }

  readonly #onDeadline = (): void => {
    this.#deadline = undefined
    // The deadline passed while refused connections were being retried: say why.
    const retrying = this.#backoff !== undefined
    this.#fail({
      kind: 'timeout',
      cause: retrying ? this.#refusal : undefined,
      refused: retrying ? this.#attempts : 0,
    })
  }

  #answer(cut: boolean): void {
    if (!this.#settle()) return
    const chunks = this.#chunks
    this.answered({
      status: this.#status,
      errorCode: this.#errorCode,
      body: chunks === undefined ? '' : Buffer.concat(chunks, this.#size).toString('utf8'),
      cut,
    })
    this.context.settled?.()
  }

  #fail(failure: Failure): void {
    if (!this.#settle()) return
    const reason = this.failed(failure)
    this.#abandoned = reason
    this.context.settled?.()
    const controller = this.#controller
    this.#controller = undefined
    // Drops the request if it is on a socket; undici then reports it to onResponseError,
    // which finds the exchange settled.
    controller?.abort(reason as Error)
  }

  #settle(): boolean {
    if (this.#settled) return false
    this.#settled = true
    const { timers } = this.context
    if (this.#deadline !== undefined) timers.clearTimeout(this.#deadline)
    if (this.#backoff !== undefined) {
      timers.clearTimeout(this.#backoff)
      this.#backoff = undefined
      this.context.retrying?.(this, false)
    }
    if (this.#onAbort !== undefined) this.#signal?.removeEventListener('abort', this.#onAbort)
    return true
  }
}

/** A request of the relay's sender to ExoCom. */
export interface SendRequest extends ExchangeRequest {
  /** What errors call it: `the message 'users.create'`. A function: built only for an error. */
  readonly subject: () => string
}

/**
 * One request of the relay's sender to ExoCom: settles its `promise` with what `interpret`
 * makes of ExoCom's answer, or rejects with the coded error of its failure. The timeout error
 * is built when the deadline passes, not per request: the relay's own deadline error already
 * carries the caller's stack.
 */
export class SendExchange<T> extends UndiciExchange {
  readonly promise: Promise<T>
  readonly #interpret: (answer: Answer) => T
  readonly #subject: () => string
  #resolve!: (value: T) => void
  #reject!: (reason: unknown) => void

  constructor(
    context: ExchangeContext,
    request: SendRequest,
    timeout: number,
    signal: AbortSignal | undefined,
    interpret: (answer: Answer) => T,
    started?: number,
  ) {
    super(context, request, timeout, signal, started)
    this.#interpret = interpret
    this.#subject = request.subject
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    this.start()
  }

  protected answered({ status, errorCode, body }: RawAnswer): void {
    try {
      this.#resolve(
        this.#interpret({
          status,
          errorCode,
          bodyStart: status < 300 ? '' : answerText(body, errorCode),
          body: status < 300 ? body : '',
        }),
      )
    } catch (error) {
      this.#reject(error)
    }
  }

  protected failed({ kind, cause, refused }: Failure): unknown {
    const error = this.#error(kind, cause, refused)
    this.#reject(error)
    return error
  }

  #error(kind: Failure['kind'], cause: unknown, refused: number): unknown {
    const subject = this.#subject()
    if (kind === 'reason') return cause
    if (kind === 'unreachable') {
      return unreachableError(this.context.origin, cause, refused === 0 ? undefined : refused)
    }
    if (kind === 'closed') {
      return new ClosedError(
        ErrorCodes.CLOSED,
        `The sender was closed while it retried ${subject} (${countAttempts(refused)} refused).`,
        { cause },
      )
    }
    const message = timeoutMessage(subject, this.timeout)
    if (refused > 0) {
      return new TimeoutError(
        `${message.slice(0, -1)}: ${countAttempts(refused)} to connect failed (${describeCause(cause)}).`,
        this.timeout,
        { cause },
      )
    }
    return new TimeoutError(message, this.timeout, cause === undefined ? undefined : { cause })
  }
}
