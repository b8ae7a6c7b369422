import {
  ErrorCodes,
  type Logger,
  type OutgoingEnvelope,
  TimeoutError,
  type Timers,
  TransportError,
} from '@exorelay/core'
import { textStart } from '@exorelay/core/internal'
import {
  type BatchResult,
  batchEntry,
  MAX_BATCH_BYTES,
  MAX_BATCH_RESULTS_BYTES,
  parseBatchResults,
  SEND_BATCH_PATH,
  tookNoneOfBatch,
} from '@exorelay/http-protocol'
import { BatchQueue } from './batch-queue.js'
import { answerText, describeCause, timeoutMessage } from './bus-errors.js'
import { hasDeadlineTimer } from './deadline.js'
import type { Answer, ExchangeContext, SendExchange, SendRequest } from './exchange.js'
import { isSuccess, messageOutcome, messageSubject } from './outcome.js'

/**
 * The sending side of the batch extension (decision 0011). While fewer than `batchAfter`
 * requests to ExoCom are under way, every message goes out at once on the single route, and
 * nothing here runs. Beyond that, new messages wait; when one of the requests ends, those
 * waiting leave together as one `POST /send` with a JSON array body. Nothing ever waits for a
 * batch to fill: a message waits only as long as the bus is busy with earlier ones.
 */

/** What batching needs from its sender. */
export interface BatchHost {
  readonly context: ExchangeContext
  /** The headers of a request with a JSON body. */
  readonly headers: Readonly<Record<string, string>>
  readonly log: Logger
  /** Requests to ExoCom under way: sends, batches, registrations. */
  underWay(): number
  /** Starts a request to ExoCom, counted among those under way until it settles. */
  start(
    request: SendRequest,
    timeout: number,
    interpret: (answer: Answer) => void,
  ): SendExchange<void>
  /** Sends the message alone on the single route, within what is left of its deadline. */
  sendAlone(message: WaitingMessage): void
}

/** The messages waiting for a batch, and when they leave: the shared queue. One per sender. */
export class Batcher {
  readonly #host: BatchHost
  readonly #allowed: boolean
  /** `queue.on`: allowed, offered by the bus at its last registration answer, not refused since. */
  readonly #queue: BatchQueue<WaitingMessage>

  constructor(host: BatchHost, allowed: boolean, after: number) {
    this.#host = host
    this.#allowed = allowed
    this.#queue = new BatchQueue<WaitingMessage>(
      {
        underWay: host.underWay,
        entry: (message) => message.entry,
        settled: (message) => message.settled,
        // Its deadline passed, but its timer has not run yet (several requests ended in one
        // turn of the event loop): it fails here and is never written.
        expired: (message, now) => now - message.started >= message.timeout,
        expire: (message) => message.fail(message.timeoutError()),
        sendAlone: host.sendAlone,
        sendBatch: (messages, body) => new Batch(this, host, messages, body),
      },
      after,
    )
  }

  /** Whether this sender may batch at all (the `batches` option). */
  get allowed(): boolean {
    return this.#allowed
  }

  get timers(): Timers {
    return this.#host.context.timers
  }

  /** Messages waiting that have not given up. */
  get waiting(): number {
    return this.#queue.waiting
  }

  /** The bus answered a registration: it takes batches from now on, or not. */
  learn(offered: boolean): void {
    this.#queue.on = this.#allowed && offered
  }

  /** Whether a new message waits for a batch instead of going out at once. */
  holds(): boolean {
    return this.#queue.holds()
  }

  /**
   * Queues a message for the next batch. `undefined` for a message whose entry alone passes
   * `MAX_BATCH_BYTES`: no batch can carry it, so it goes out alone at once.
   */
  wait(
    envelope: OutgoingEnvelope,
    body: string,
    timeout: number,
    signal: AbortSignal | undefined,
  ): Promise<void> | undefined {
    const entry = batchEntry(envelope.name, body)
    // A batch of it alone adds its brackets.
    if (Buffer.byteLength(entry) + 2 > MAX_BATCH_BYTES) return undefined
    const message = new WaitingMessage(this, envelope, body, entry, timeout, signal)
    this.#queue.push(message)
    return message.promise
  }

  /** A waiting message gave up (deadline or signal) before it left. */
  left(): void {
    this.#queue.left()
  }

  /**
   * A request to ExoCom ended: the messages waiting leave, as batches for as long as fewer
   * than `batchAfter` requests are under way, or each alone once the bus takes no batches.
   */
  flush(): void {
    this.#queue.flush(!this.#queue.on)
  }

  /** ExoCom took no batch (404, 405, 413): the single route until it offers batches again. */
  stop(): void {
    this.#queue.on = false
  }
}

/**
 * A message that waits for a batch, then travels in one. Its deadline runs from its `send()`
 * on, as on the single route, and it watches its own signal: it fails alone, at its own time,
 * whatever becomes of the others.
 */
export class WaitingMessage {
  readonly envelope: OutgoingEnvelope
  /** Its body on the single route. */
  readonly body: string
  /** Its entry in a batch: the body with the name. */
  readonly entry: string
  readonly timeout: number
  readonly signal: AbortSignal | undefined
  /** When its send started (`performance.now()`): its deadline and retry budget count from it. */
  readonly started: number
  readonly promise: Promise<void>
  /** The batch it travels in; `undefined` while it waits. */
  batch: Batch | undefined
  readonly #batcher: Batcher
  #resolve!: () => void
  #reject!: (reason: unknown) => void
  #deadline: unknown
  #onAbort: (() => void) | undefined
  #settled = false

  constructor(
    batcher: Batcher,
    envelope: OutgoingEnvelope,
    body: string,
    entry: string,
    timeout: number,
    signal: AbortSignal | undefined,
  ) {
    this.#batcher = batcher
    this.envelope = envelope
    this.body = body
    this.entry = entry
    this.timeout = timeout
    this.signal = signal
    this.started = performance.now()
    this.promise = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    if (signal !== undefined) {
      this.#onAbort = () => this.#giveUp(signal.reason)
      signal.addEventListener('abort', this.#onAbort)
    }
    if (hasDeadlineTimer(timeout)) {
      this.#deadline = batcher.timers.setTimeout(() => {
        this.#deadline = undefined
        this.#giveUp(this.timeoutError())
      }, timeout)
    }
  }

  /** Settled, or handed to a request on the single route: nothing more to do for it. */
  get settled(): boolean {
    return this.#settled
  }

  /** The `TimeoutError` the single route gives for this message. */
  timeoutError(cause?: unknown): TimeoutError {
    const message = timeoutMessage(messageSubject(this.envelope.name), this.timeout)
    return new TimeoutError(message, this.timeout, cause === undefined ? undefined : { cause })
  }

  succeed(): void {
    if (this.#finish()) this.#resolve()
  }

  fail(reason: unknown): void {
    if (this.#finish()) this.#reject(reason)
  }

  /**
   * Hands the message to a request of its own on the single route (`deliver`), which takes
   * over its deadline and signal. A deadline that passed already (a late timer) fails it here.
   */
  transfer(deliver: () => Promise<void>): void {
    if (performance.now() - this.started >= this.timeout) {
      this.fail(this.timeoutError())
      return
    }
    if (this.#finish()) deliver().then(this.#resolve, this.#reject)
  }

  /** Its deadline passed or its signal aborted: it fails, and is never written if it waits. */
  #giveUp(reason: unknown): void {
    if (!this.#finish()) return
    this.#reject(reason)
    if (this.batch === undefined) this.#batcher.left()
    else this.batch.left()
  }

  #finish(): boolean {
    if (this.#settled) return false
    this.#settled = true
    if (this.#deadline !== undefined) this.#batcher.timers.clearTimeout(this.#deadline)
    if (this.#onAbort !== undefined) this.signal?.removeEventListener('abort', this.#onAbort)
    return true
  }
}

/**
 * One `POST /send` carrying several messages, and what becomes of each. Each message keeps
 * its own deadline and signal; the request runs until the latest deadline among them, and is
 * dropped once every message has given up.
 */
export class Batch {
  readonly #batcher: Batcher
  readonly #host: BatchHost
  readonly #messages: readonly WaitingMessage[]
  readonly #exchange: SendExchange<void>
  /** The messages in the body last sent, in order: the answer has one result for each. */
  #sent: readonly WaitingMessage[]
  #live: number

  constructor(batcher: Batcher, host: BatchHost, messages: WaitingMessage[], body: string) {
    this.#batcher = batcher
    this.#host = host
    this.#messages = messages
    this.#sent = messages
    this.#live = messages.length
    let deadline = 0
    for (const message of messages) {
      message.batch = this
      deadline = Math.max(deadline, message.started + message.timeout)
    }
    const request: SendRequest = {
      method: 'POST',
      path: SEND_BATCH_PATH,
      body,
      // Nothing was written: the messages that gave up during the backoff are left out.
      retryBody: () => {
        this.#sent = this.#messages.filter((message) => !message.settled)
        return batchBody(this.#sent)
      },
      headers: host.headers,
      subject: () => `a batch of ${messages.length} messages`,
      answerLimit: MAX_BATCH_RESULTS_BYTES,
    }
    // A timer that fired late may leave nothing; undici takes no timeout below 1 ms.
    const timeout = Math.max(deadline - performance.now(), 1)
    this.#exchange = host.start(request, timeout, (answer) => this.#answer(answer))
    this.#exchange.promise.catch((error: unknown) => this.#fail(error))
  }

  /** One of its messages gave up. When none is left, nobody waits for the answer. */
  left(): void {
    this.#live--
    if (this.#live === 0) this.#exchange.cancel(new Error('Every message of the batch gave up.'))
  }

  #answer(answer: Answer): void {
    const { status } = answer
    if (isSuccess(status)) {
      this.#settle(answer.body, status)
      return
    }
    if (tookNoneOfBatch(status)) {
      // The bus took none of them (no batch route, or a body limit under a batch's size):
      // each is sent again, alone, and no batch goes until a registration offers them again.
      // At most once holds: none of them arrived.
      this.#batcher.stop()
      this.#host.log.debug({ status }, 'ExoCom took no batch; sending messages alone')
      for (const message of this.#sent) {
        if (!message.settled) this.#host.sendAlone(message)
      }
      return
    }
    for (const message of this.#sent) {
      if (message.settled) continue
      const { log } = this.#host
      message.fail(
        messageOutcome(
          log,
          this.#host.context.origin,
          message.envelope,
          status,
          answer.errorCode,
          answer.bodyStart,
        ),
      )
    }
  }

  /** A 2xx answer: one result per message, in order. */
  #settle(body: string, status: number): void {
    const messages = this.#sent
    let results: BatchResult[]
    try {
      results = parseBatchResults(JSON.parse(body), messages.length)
    } catch (error) {
      // Which messages the bus took is unknown: none is sent again (at most once). The error
      // has no cause: V8's JSON error quotes the body, which is peer text.
      this.#fail(
        new TransportError(
          ErrorCodes.BUS_REFUSED,
          `ExoCom answered a batch of ${messages.length} messages with ${status} but no valid results (${unreadable(error)}).`,
          { status },
        ),
      )
      return
    }
    for (let index = 0; index < messages.length; index++) {
      const message = messages[index] as WaitingMessage
      if (message.settled) continue
      const result = results[index] as BatchResult
      const error = messageOutcome(
        this.#host.log,
        this.#host.context.origin,
        message.envelope,
        result.status,
        result.code,
        answerText(result.error ?? '', result.code),
      )
      if (error === undefined) message.succeed()
      else message.fail(error)
    }
  }

  /** The request failed, or its answer cannot be read: every message still waiting fails. */
  #fail(error: unknown): void {
    for (const message of this.#messages) {
      if (message.settled) continue
      message.fail(error instanceof TimeoutError ? message.timeoutError(error) : error)
    }
  }
}

/**
 * Why a batch answer could not be read, without quoting it: V8's `SyntaxError` shows the
 * start of the body (`Unexpected token '<', "<!DOCTYPE "...`), so only its kind is named.
 */
function unreadable(error: unknown): string {
  return error instanceof SyntaxError ? 'its body is not JSON' : textStart(describeCause(error))
}

/** The JSON array of the messages' entries. */
function batchBody(messages: readonly WaitingMessage[]): string {
  let body = '['
  for (let index = 0; index < messages.length; index++) {
    if (index > 0) body += ','
    body += (messages[index] as WaitingMessage).entry
  }
  return `${body}]`
}
