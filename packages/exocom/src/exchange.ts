import type { Logger } from '@exorelay/core'
import { formatMessageLine, textStart, traceIdOf } from '@exorelay/core/internal'
import {
  type BatchResult,
  MAX_BATCH_RESULTS_BYTES,
  parseBatchResults,
  RUN_BATCH_PATH,
  tookNoneOfBatch,
} from '@exorelay/http-protocol'
import {
  type BatchQueue,
  type ExchangeContext,
  type Failure,
  isConnectTimeout,
  type RawAnswer,
  UndiciExchange,
} from '@exorelay/undici-sender/internal'
import type { Pool } from 'undici'
import type { DeliveryOutcome } from './bus-events.js'
import type { EventStream } from './event-stream.js'
import type { Delivery } from './routing-table.js'

const UNAUTHORIZED = 401

/** One routed message, the same for each of its receivers. */
export interface RoutedMessage {
  /** The public name, for the console line. */
  readonly publicName: string
  /**
   * The name as the sender sent it. When its internal namespace made it another public name,
   * the console line shows both, as the original bus did. Absent: the public name.
   */
  readonly sentName?: string | undefined
  readonly sender: string
  /** The sending instance's id, when the message named one. */
  readonly instance?: string | undefined
  readonly id: string
  readonly responseTo: string | undefined
  /** W3C trace context, when the message carried it: its trace id is in every log line of it. */
  readonly traceparent?: string | undefined
  /** How many services the message went to: a request to one that is gone is answered at once. */
  readonly receivers: number
  /** When the bus accepted it (`performance.now()`): each delivery event's duration counts from it. */
  readonly accepted: number
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

/**
 * One receiver origin: its pool, what is under way to it, and what waits for a batch. The
 * exchanges to it share it as their context: no retries (a delivery is never sent twice).
 */
export interface Target extends ExchangeContext {
  /** Its key among the deliverer's targets: the origin, with the service in identity mode. */
  readonly key: string
  /** The headers of each request to it: its token, the shared one, or none. */
  readonly headers: Readonly<Record<string, string>>
  readonly pool: Pool
  /** Messages to it that have not settled: in requests under way, and queued. */
  pending: number
  /** The bytes of their bodies (each message's JSON, counted once per receiver). */
  pendingBytes: number
  /** Requests under way to it, single deliveries and batches alike. */
  requests: number
  /**
   * Messages waiting for a batch, oldest first; `queue.on` while it offered batches and has
   * not refused one since.
   */
  readonly queue: BatchQueue<Queued>
}

/** Where the outcome of each delivery goes: a log line, and an event for the stream's clients. */
export interface OutcomeSink {
  readonly log: Logger
  readonly events: EventStream
}

/** What each request shares with its deliverer. */
export interface DeliveryContext extends OutcomeSink {
  readonly timeout: number
  /**
   * A request to `target` carrying `count` messages whose bodies have `bytes` has ended, each
   * message logged. Called exactly once per request, after its outcome was handled.
   */
  ended(target: Target, count: number, bytes: number): void
  /** `target` answered `status` to a batch without taking any of it: deliver `items` again, alone. */
  refused(target: Target, items: readonly Queued[], status: number): void
  /**
   * Nothing listened at the receiver's address (the connection was refused), so `message` was
   * never taken: called once per message, after its failure was logged. `since`: when the
   * request was made.
   */
  /**
   * Nothing listened at the receiver's address: `message` was never taken. Returns whether it
   * went on to another instance of the service (then it is no failure).
   */
  unreachable(delivery: Delivery, message: RoutedMessage, since: number): boolean
  /** The receiver answered 401 to `message`: it wants another token than the bus's. */
  tokenRefused(delivery: Delivery, message: RoutedMessage): void
}

/**
 * One request to a receiver: the shared undici exchange (one deadline for the whole request,
 * an answer's body read within limits, never written once timed out), with its outcome
 * logged. A delivery never throws and is never retried.
 */
abstract class DeliveryExchange extends UndiciExchange {
  protected readonly deliveries: DeliveryContext
  protected readonly target: Target
  readonly #count: number
  readonly #bytes: number
  // When the request was made (`performance.now()`): a service that registered after that is
  // alive, whatever this request found.
  readonly #since = performance.now()

  constructor(
    deliveries: DeliveryContext,
    target: Target,
    count: number,
    bytes: number,
    path: string,
    body: string,
    answerLimit: number | undefined,
  ) {
    super(
      target,
      { method: 'POST', path, body, headers: target.headers, answerLimit },
      deliveries.timeout,
      undefined,
    )
    this.deliveries = deliveries
    this.target = target
    this.#count = count
    this.#bytes = bytes
  }

  /**
   * The receiver answered `status`; `body` is what was read, `cut` when it was longer;
   * `errorCode` is its `exorelay-error-code` header.
   */
  protected abstract delivered(
    status: number,
    body: string,
    cut: boolean,
    errorCode: string | undefined,
  ): void

  /** No answer came: `reason` says why, for each message's warning. */
  protected abstract undelivered(outcome: DeliveryOutcome, reason: string, err: Error): void

  /** The messages of this request, each with its delivery. */
  protected abstract messages(): Iterable<{ delivery: Delivery; message: RoutedMessage }>

  protected answered({ status, body, cut, errorCode }: RawAnswer): void {
    this.delivered(status, body, cut, errorCode)
    this.deliveries.ended(this.target, this.#count, this.#bytes)
  }

  protected failed({ kind, cause }: Failure): unknown {
    const timeout = this.timeout
    let err = cause as Error
    let reason = `the receiver did not answer within ${timeout} ms`
    let outcome: DeliveryOutcome = 'timeout'
    let refused = false
    if (kind === 'timeout') {
      err ??= new Error(`The receiver did not answer within ${timeout} ms.`)
    } else if (!isConnectTimeout(cause)) {
      const code = (cause as { code?: unknown } | null | undefined)?.code
      reason = `the receiver is unreachable (${typeof code === 'string' ? code : String(cause)})`
      outcome = 'unreachable'
      // Nothing listens there: the request was never taken, and the service is gone.
      refused = code === 'ECONNREFUSED'
    }
    if (!refused) {
      this.undelivered(outcome, reason, err)
      this.deliveries.ended(this.target, this.#count, this.#bytes)
      return err
    }
    this.deliveries.ended(this.target, this.#count, this.#bytes)
    for (const { delivery, message } of this.messages()) {
      // A message another instance took is no failure: liveness logs where it went, and the
      // stream shows this instance's outcome before the next one's.
      if (this.deliveries.unreachable(delivery, message, this.#since)) {
        this.deliveries.events.delivery(delivery, message, 'unreachable', undefined, reason)
        continue
      }
      logFailed(this.deliveries, delivery, message, 'unreachable', reason, err)
    }
    return err
  }
}

/** One message alone on the original route: `POST /run/<name>` with its body. */
export class Delivering extends DeliveryExchange {
  readonly #delivery: Delivery
  readonly #message: RoutedMessage

  constructor(
    context: DeliveryContext,
    target: Target,
    delivery: Delivery,
    message: RoutedMessage,
  ) {
    super(context, target, 1, message.body.length, delivery.path, message.body, undefined)
    this.#delivery = delivery
    this.#message = message
    this.start()
  }

  protected delivered(status: number, body: string, _cut: boolean, errorCode?: string): void {
    if (status < 300) logDelivered(this.deliveries, this.#delivery, this.#message, status)
    else {
      const response = textStart(body)
      logRefused(this.deliveries, this.#delivery, this.#message, status, response, errorCode)
    }
    if (status === UNAUTHORIZED) this.deliveries.tokenRefused(this.#delivery, this.#message)
  }

  protected undelivered(outcome: DeliveryOutcome, reason: string, err: Error): void {
    logFailed(this.deliveries, this.#delivery, this.#message, outcome, reason, err)
  }

  protected messages(): Iterable<{ delivery: Delivery; message: RoutedMessage }> {
    return [{ delivery: this.#delivery, message: this.#message }]
  }
}

/**
 * Several messages to one receiver as one `POST /run` whose body is the JSON array of their
 * entries (decision 0011), answered with one result per message. Each message is logged as
 * if it had gone alone.
 */
export class BatchDelivering extends DeliveryExchange {
  readonly #items: readonly Queued[]

  /** `body` is the JSON array of the entries of `items`, in their order. */
  constructor(context: DeliveryContext, target: Target, items: readonly Queued[], body: string) {
    super(
      context,
      target,
      items.length,
      bodyBytes(items),
      RUN_BATCH_PATH,
      body,
      MAX_BATCH_RESULTS_BYTES,
    )
    this.#items = items
    this.start()
  }

  protected delivered(status: number, body: string, cut: boolean, errorCode?: string): void {
    const sink = this.deliveries
    const items = this.#items
    if (status >= 300) {
      // The receiver took none of it: each message may still go alone.
      if (tookNoneOfBatch(status)) {
        this.deliveries.refused(this.target, items, status)
        return
      }
      // Quoted once for the whole batch: the body may be a megabyte.
      const response = textStart(body)
      for (const { delivery, message } of items) {
        logRefused(sink, delivery, message, status, response, errorCode)
        if (status === UNAUTHORIZED) this.deliveries.tokenRefused(delivery, message)
      }
      return
    }
    let results: BatchResult[]
    try {
      if (cut) throw new Error(`it is longer than ${MAX_BATCH_RESULTS_BYTES} bytes`)
      results = parseBatchResults(JSON.parse(body), items.length)
    } catch (error) {
      // Nobody can tell which messages were taken: each is reported, none is sent again
      // (at most once). V8's JSON error quotes the body (`Unexpected token '<', "<!DOCTYPE "...`),
      // which is the receiver's text: the log names only what is wrong with it.
      const err = new Error(
        error instanceof SyntaxError
          ? 'its body is not JSON'
          : textStart(error instanceof Error ? error.message : String(error)),
      )
      const reason = `the receiver answered a batch of ${items.length} with no valid results (${err.message}), so the message may or may not have been taken`
      for (const { delivery, message } of items) {
        logFailed(sink, delivery, message, 'dropped', reason, err)
      }
      return
    }
    for (let index = 0; index < items.length; index++) {
      const { delivery, message } = items[index]!
      const result = results[index]!
      if (result.status >= 200 && result.status < 300) {
        logDelivered(sink, delivery, message, result.status)
      } else {
        const response = textStart(result.error ?? '')
        logRefused(sink, delivery, message, result.status, response, result.code)
      }
    }
  }

  protected undelivered(outcome: DeliveryOutcome, reason: string, err: Error): void {
    for (const { delivery, message } of this.#items) {
      logFailed(this.deliveries, delivery, message, outcome, reason, err)
    }
  }

  protected messages(): Iterable<{ delivery: Delivery; message: RoutedMessage }> {
    return this.#items
  }
}

function logDelivered(
  { log, events }: OutcomeSink,
  delivery: Delivery,
  message: RoutedMessage,
  status: number,
): void {
  events.delivery(delivery, message, 'delivered', status)
  // The hot path: no log object is built when info is off.
  if (log.isLevelEnabled?.('info') === false) return
  log.info(describe(delivery, message), consoleLine(delivery, message))
}

function logRefused(
  { log, events }: OutcomeSink,
  delivery: Delivery,
  message: RoutedMessage,
  status: number,
  /** The receiver's answer, quoted by `textStart`. */
  response: string,
  /** Its `exorelay-error-code`, when it gave one. */
  code: string | undefined,
): void {
  events.delivery(delivery, message, 'refused', status, response, code)
  log.warn(
    {
      ...describe(delivery, message),
      status,
      response,
    },
    `not delivered: ${consoleLine(delivery, message)}: the receiver answered ${status}`,
  )
}

/**
 * Logs a message that got no answer, or an answer that says nothing about it, and tells the
 * stream its outcome.
 */
export function logFailed(
  { log, events }: OutcomeSink,
  delivery: Delivery,
  message: RoutedMessage,
  outcome: DeliveryOutcome,
  reason: string,
  err?: Error,
): void {
  events.delivery(delivery, message, outcome, undefined, reason)
  const fields = describe(delivery, message)
  if (err !== undefined) fields.err = err
  log.warn(fields, `not delivered: ${consoleLine(delivery, message)}: ${reason}`)
}

/** The bytes of the bodies of `items`, as the deliverer counts them under way. */
export function bodyBytes(items: readonly Queued[]): number {
  let bytes = 0
  for (const { message } of items) bytes += message.body.length
  return bytes
}

/** The log fields of one delivery. */
export function describe(delivery: Delivery, message: RoutedMessage): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    sender: message.sender,
    receiver: delivery.service.name,
    messageName: message.publicName,
    messageId: message.id,
  }
  // Which instance took it, when the service has ids: the spread shows in the log.
  if (delivery.service.instance !== undefined) {
    fields.receiverInstance = delivery.service.instance
  }
  if (delivery.internalName !== message.publicName) fields.internalName = delivery.internalName
  if (message.sentName !== undefined && message.sentName !== message.publicName) {
    fields.sentName = message.sentName
  }
  if (message.responseTo !== undefined) fields.responseTo = message.responseTo
  // Cut out here, where a line is written, not for every message routed.
  if (message.traceparent !== undefined) fields.traceId = traceIdOf(message.traceparent)
  return fields
}

/** The console line of one delivery: `web  --[ users.create ]->  users`. */
export function consoleLine(delivery: Delivery, message: RoutedMessage): string {
  return formatMessageLine(
    message.sender,
    message.publicName,
    delivery.internalName,
    delivery.service.name,
    message.sentName,
  )
}
