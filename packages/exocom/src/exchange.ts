import type { Logger } from '@exorelay/core'
import {
  type BatchResult,
  parseBatchResults,
  RUN_BATCH_PATH,
  tookNoneOfBatch,
} from '@exorelay/http-protocol'
import type { Dispatcher, Pool } from 'undici'
import { formatMessageLine } from './message-log.js'
import type { Delivery } from './routing-table.js'

/** One routed message, the same for each of its receivers. */
export interface RoutedMessage {
  /** The public name, for the console line. */
  readonly publicName: string
  readonly sender: string
  readonly id: string
  readonly responseTo: string | undefined
  /**
   * The JSON body every receiver gets: `{ id, payload?, responseTo? }`, serialised once per
   * message (and before the sender was answered, so that a body that cannot be serialised is
   * refused instead of failing every delivery). A batch entry is this body with the
   * receiver's `name` spliced in front, so it is never serialised again.
   */
  readonly body: string
}

/** One message on its way to one receiver. */
export interface Queued {
  readonly delivery: Delivery
  readonly message: RoutedMessage
  /** When it was queued (`performance.now()`): it waits at most the delivery timeout. */
  readonly since: number
}

/** One receiver origin: its pool, what is under way to it, and what waits for a batch. */
export interface Target {
  readonly origin: string
  readonly pool: Pool
  /** Messages to it that have not settled: in requests under way, and queued. */
  pending: number
  /** Requests under way to it, single deliveries and batches alike. */
  requests: number
  /** Messages may wait for a batch: it offered batches and has not refused one since. */
  batches: boolean
  /** Messages waiting for a batch, oldest first. */
  readonly queue: Queued[]
}

/** What each request shares with its deliverer. */
export interface DeliveryContext {
  readonly timeout: number
  readonly headers: Readonly<Record<string, string>>
  readonly log: Logger
  /**
   * A request to `target` carrying `count` messages has ended, each message logged. Called
   * exactly once per request, after its outcome was handled.
   */
  ended(target: Target, count: number): void
  /** `target` answered `status` to a batch without taking any of it: deliver `items` again, alone. */
  refused(target: Target, items: readonly Queued[], status: number): void
}

// A receiver's error text goes into the warning; a rogue receiver must not fill the log.
const MAX_ERROR_TEXT = 200
// Bytes of an error answer read at most; leaving the rest unread closes that connection.
const ERROR_READ_LIMIT = 4096
// Bytes of the results of a batch read at most: 256 results with long error texts fit well
// within it, while a rogue receiver cannot stream into the bus.
const RESULTS_READ_LIMIT = 1024 * 1024
const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
])

/**
 * One request to a receiver as an undici dispatch handler: no response stream, no abort
 * controller, no promise, no async function per request. Its deadline is one timer for the
 * whole request: undici's own timeouts restart at each stage (and at each body chunk), so a
 * receiver that trickles its answer would otherwise hold `close()` for ever. The error for a
 * passed deadline is made only when it passes.
 */
abstract class Exchange implements Dispatcher.DispatchHandler {
  protected readonly context: DeliveryContext
  protected readonly target: Target
  readonly #count: number
  #timer: NodeJS.Timeout | undefined
  #settled = false
  #controller: Dispatcher.DispatchController | undefined
  #status = 0
  #chunks: Buffer[] | undefined
  #limit = 0
  #read = 0

  constructor(context: DeliveryContext, target: Target, count: number) {
    this.context = context
    this.target = target
    this.#count = count
  }

  /**
   * How many bytes of an answer with `status` to read; `0` reads none (undici consumes the
   * body, which keeps the connection alive).
   */
  protected abstract readLimit(status: number): number

  /** The receiver answered `status`; `body` is what was read, `cut` when it was longer. */
  protected abstract answered(status: number, body: string, cut: boolean): void

  /** No answer came: `reason` says why, for each message's warning. */
  protected abstract failed(reason: string, err: Error): void

  /** Sends the request. Called by a subclass once it is complete: undici may answer at once. */
  protected send(path: string, body: string): void {
    this.#timer = setTimeout(this.#onDeadline, this.context.timeout)
    this.target.pool.dispatch(
      {
        origin: this.target.origin,
        method: 'POST',
        path,
        headers: this.context.headers,
        body,
      },
      this,
    )
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    // Timed out while it waited for a connection: it must not be written any more.
    if (this.#settled) controller.abort(new Error('The delivery had timed out.'))
    else this.#controller = controller
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    if (statusCode < 200) return
    this.#status = statusCode
    const limit = this.readLimit(statusCode)
    if (limit === 0) return
    this.#chunks = []
    this.#limit = limit
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const chunks = this.#chunks
    if (chunks === undefined) return
    chunks.push(chunk)
    this.#read += chunk.length
    // A short body is read to its end so the socket can be reused; a long one is cut off, so
    // a rogue receiver cannot stream into the bus.
    if (this.#read > this.#limit) {
      this.#answer(true)
      controller.abort(new Error('The answer is longer than the bus reads.'))
    }
  }

  onResponseEnd(): void {
    this.#answer(false)
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.#controller = undefined
    if (!this.#stop()) return
    const code = (error as { code?: unknown }).code
    this.failed(
      typeof code === 'string' && TIMEOUT_CODES.has(code)
        ? `the receiver did not answer within ${this.context.timeout} ms`
        : `the receiver is unreachable (${typeof code === 'string' ? code : String(error)})`,
      error,
    )
    this.context.ended(this.target, this.#count)
  }

  readonly #onDeadline = (): void => {
    if (!this.#stop()) return
    const timeout = this.context.timeout
    const err = new Error(`The receiver did not answer within ${timeout} ms.`)
    this.failed(`the receiver did not answer within ${timeout} ms`, err)
    this.context.ended(this.target, this.#count)
    const controller = this.#controller
    this.#controller = undefined
    controller?.abort(err)
  }

  #answer(cut: boolean): void {
    if (!this.#stop()) return
    const chunks = this.#chunks
    const body = chunks === undefined ? '' : Buffer.concat(chunks).toString('utf8')
    this.answered(this.#status, body, cut)
    this.context.ended(this.target, this.#count)
  }

  /** Marks the request as ended; `false` when it had ended already. */
  #stop(): boolean {
    if (this.#settled) return false
    this.#settled = true
    clearTimeout(this.#timer)
    return true
  }
}

/** One message alone on the original route: `POST /run/<name>` with its body. */
export class Delivering extends Exchange {
  readonly #delivery: Delivery
  readonly #message: RoutedMessage

  constructor(
    context: DeliveryContext,
    target: Target,
    delivery: Delivery,
    message: RoutedMessage,
  ) {
    super(context, target, 1)
    this.#delivery = delivery
    this.#message = message
    this.send(delivery.path, message.body)
  }

  protected readLimit(status: number): number {
    return status < 300 ? 0 : ERROR_READ_LIMIT
  }

  protected answered(status: number, body: string): void {
    if (status < 300) logDelivered(this.context.log, this.#delivery, this.#message)
    else logRefused(this.context.log, this.#delivery, this.#message, status, body)
  }

  protected failed(reason: string, err: Error): void {
    logFailed(this.context.log, this.#delivery, this.#message, reason, err)
  }
}

/**
 * Several messages to one receiver as one `POST /run` whose body is the JSON array of their
 * entries (decision 0011), answered with one result per message. Each message is logged as
 * if it had gone alone.
 */
export class BatchDelivering extends Exchange {
  readonly #items: readonly Queued[]

  /** `body` is the JSON array of the entries of `items`, in their order. */
  constructor(context: DeliveryContext, target: Target, items: readonly Queued[], body: string) {
    super(context, target, items.length)
    this.#items = items
    this.send(RUN_BATCH_PATH, body)
  }

  protected readLimit(status: number): number {
    return status < 300 ? RESULTS_READ_LIMIT : ERROR_READ_LIMIT
  }

  protected answered(status: number, body: string, cut: boolean): void {
    const log = this.context.log
    const items = this.#items
    if (status >= 300) {
      // The receiver took none of it: each message may still go alone.
      if (tookNoneOfBatch(status)) {
        this.context.refused(this.target, items, status)
        return
      }
      for (const { delivery, message } of items) logRefused(log, delivery, message, status, body)
      return
    }
    let results: BatchResult[]
    try {
      if (cut) throw new Error(`it is longer than ${RESULTS_READ_LIMIT} bytes`)
      results = parseBatchResults(JSON.parse(body), items.length)
    } catch (error) {
      // Nobody can tell which messages were taken: each is reported, none is sent again
      // (at most once).
      const err = error instanceof Error ? error : new Error(String(error))
      const reason = `the receiver answered a batch of ${items.length} with no valid results (${err.message}), so the message may or may not have been taken`
      for (const { delivery, message } of items) logFailed(log, delivery, message, reason, err)
      return
    }
    for (let index = 0; index < items.length; index++) {
      const { delivery, message } = items[index]!
      const result = results[index]!
      if (result.status >= 200 && result.status < 300) logDelivered(log, delivery, message)
      else logRefused(log, delivery, message, result.status, result.error ?? '')
    }
  }

  protected failed(reason: string, err: Error): void {
    const log = this.context.log
    for (const { delivery, message } of this.#items) {
      logFailed(log, delivery, message, reason, err)
    }
  }
}

function logDelivered(log: Logger, delivery: Delivery, message: RoutedMessage): void {
  // The hot path: no log object is built when info is off.
  if (log.isLevelEnabled?.('info') === false) return
  log.info(describe(delivery, message), consoleLine(delivery, message))
}

function logRefused(
  log: Logger,
  delivery: Delivery,
  message: RoutedMessage,
  status: number,
  text: string,
): void {
  log.warn(
    {
      ...describe(delivery, message),
      status,
      response: text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT)}…` : text,
    },
    `not delivered: ${consoleLine(delivery, message)}: the receiver answered ${status}`,
  )
}

/** Logs a message that got no answer, or an answer that says nothing about it. */
export function logFailed(
  log: Logger,
  delivery: Delivery,
  message: RoutedMessage,
  reason: string,
  err?: Error,
): void {
  const fields = describe(delivery, message)
  if (err !== undefined) fields.err = err
  log.warn(fields, `not delivered: ${consoleLine(delivery, message)}: ${reason}`)
}

/** The log fields of one delivery. */
export function describe(delivery: Delivery, message: RoutedMessage): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    sender: message.sender,
    receiver: delivery.service.name,
    messageName: message.publicName,
    messageId: message.id,
  }
  if (delivery.internalName !== message.publicName) fields.internalName = delivery.internalName
  if (message.responseTo !== undefined) fields.responseTo = message.responseTo
  return fields
}

/** The console line of one delivery: `web  --[ users.create ]->  users`. */
export function consoleLine(delivery: Delivery, message: RoutedMessage): string {
  return formatMessageLine(
    message.sender,
    message.publicName,
    delivery.internalName,
    delivery.service.name,
  )
}
