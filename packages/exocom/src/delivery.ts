import type { Logger } from '@exorelay/core'
import { createPool } from '@exorelay/undici-sender/internal'
import type { Dispatcher, Pool } from 'undici'
import { formatMessageLine } from './message-log.js'
import { type Delivery, type ExoComService, originOf } from './routing-table.js'

export interface DeliveryOptions {
  /** Milliseconds one delivery may take in all: waiting for a connection, connecting, answering. */
  readonly timeout: number
  readonly logger: Logger
  /** The shared secret, sent as `authorization: Bearer <token>` with every delivery. */
  readonly token?: string | undefined
  /** Deliveries that may be under way to one receiver; more are dropped with a warning. */
  readonly maxPending?: number | undefined
}

/** What the deliverer holds right now; for tests and diagnostics. */
export interface DeliveryStats {
  /** Receiver origins with a pool. */
  readonly pools: number
  /** Deliveries started and not yet settled, over all receivers. */
  readonly pending: number
  /** Open connections over all pools. */
  readonly connections: number
}

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
   * refused instead of failing every delivery).
   */
  readonly body: string
}

// Enough parallel deliveries to one receiver for any development load, while a flood of
// messages to a hanging receiver cannot open sockets without bound: the rest wait in the pool.
const CONNECTIONS_PER_RECEIVER = 64
// What waits in a pool holds its body: a receiver that hangs while messages keep coming must
// not grow the bus's memory without bound. Each delivery ends within the timeout anyway.
export const DEFAULT_MAX_PENDING = 1000
// A receiver's error text goes into the warning; a rogue receiver must not fill the log.
const MAX_ERROR_TEXT = 200
// Bytes of an error answer read at most; leaving the rest unread closes that connection.
const ERROR_READ_LIMIT = 4096
const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
])
const RESOLVED: Promise<void> = Promise.resolve()

/** The pool of one receiver origin and how many deliveries to it are under way. */
interface Target {
  readonly pool: Pool
  pending: number
}

/** What each delivery shares with its deliverer. */
interface DeliveryContext {
  readonly timeout: number
  readonly headers: Readonly<Record<string, string>>
  readonly log: Logger
  /** A delivery to `target` has settled. Called exactly once per delivery. */
  settled(target: Target): void
}

/**
 * Posts routed messages to their receivers (`POST /run/<name>`) over one keep-alive undici
 * Pool per receiver origin. A delivery never throws: a receiver that is down, answers non-2xx
 * or times out is logged as a warning, and the bus carries on. Receivers never wait for each
 * other: each has its own pool, and each delivery ends within the timeout.
 */
export class Deliverer {
  readonly #timeout: number
  readonly #log: Logger
  readonly #headers: Record<string, string>
  readonly #maxPending: number
  readonly #targets = new Map<string, Target>()
  readonly #context: DeliveryContext
  #active = 0
  #idle: (() => void) | undefined
  #closed = false

  constructor(options: DeliveryOptions) {
    this.#timeout = options.timeout
    this.#log = options.logger
    this.#maxPending = options.maxPending ?? DEFAULT_MAX_PENDING
    this.#headers = { 'content-type': 'application/json', accept: 'application/json' }
    if (options.token !== undefined) this.#headers.authorization = `Bearer ${options.token}`
    this.#context = {
      timeout: this.#timeout,
      headers: this.#headers,
      log: this.#log,
      settled: (target) => {
        target.pending--
        this.#active--
        if (this.#active === 0 && this.#idle !== undefined) this.#idle()
      },
    }
  }

  /**
   * Starts the delivery at once and returns its promise, which always resolves. The request
   * is handed to the pool before this returns, so the bus may answer the sender right away.
   */
  deliver(delivery: Delivery, message: RoutedMessage): Promise<void> {
    if (this.#closed) {
      this.#log.warn(
        describe(delivery, message),
        `not delivered: ${consoleLine(delivery, message)}: ExoCom is closing`,
      )
      return RESOLVED
    }
    const target = this.#target(delivery.origin)
    if (target.pending >= this.#maxPending) {
      const pending = target.pending
      this.#log.warn(
        { ...describe(delivery, message), pending },
        `not delivered: ${consoleLine(delivery, message)}: ${pending} deliveries to the receiver are still under way`,
      )
      return RESOLVED
    }
    target.pending++
    this.#active++
    return new Delivering(this.#context, target, delivery, message).promise
  }

  /** What the deliverer holds right now. */
  stats(): DeliveryStats {
    let connections = 0
    for (const { pool } of this.#targets.values()) connections += pool.stats.connected
    return { pools: this.#targets.size, pending: this.#active, connections }
  }

  /**
   * Closes the pools of origins that no registered service uses any more. Their in-flight
   * deliveries finish first (undici's graceful close).
   */
  retain(services: readonly ExoComService[]): void {
    const wanted = new Set(services.map(originOf))
    for (const [origin, { pool }] of this.#targets) {
      if (wanted.has(origin)) continue
      this.#targets.delete(origin)
      void pool.close().catch(() => {})
    }
  }

  /** Waits for in-flight deliveries (each bounded by the timeout), then closes every pool. */
  async close(): Promise<void> {
    this.#closed = true
    if (this.#active > 0) {
      await new Promise<void>((resolve) => {
        this.#idle = resolve
      })
    }
    const pools = [...this.#targets.values()].map(({ pool }) => pool)
    this.#targets.clear()
    await Promise.all(pools.map((pool) => pool.close()))
  }

  #target(origin: string): Target {
    let target = this.#targets.get(origin)
    if (target === undefined) {
      const pool = createPool(origin, {
        connections: CONNECTIONS_PER_RECEIVER,
        headersTimeout: this.#timeout,
        bodyTimeout: this.#timeout,
        connect: { timeout: this.#timeout },
      })
      target = { pool, pending: 0 }
      this.#targets.set(origin, target)
    }
    return target
  }
}

/**
 * One delivery as an undici dispatch handler: no response stream, no abort controller, no
 * async function per delivery. Its deadline is one timer for the whole delivery: undici's own
 * timeouts restart at each stage (and at each body chunk), so a receiver that trickles its
 * answer would otherwise hold `close()` for ever. The error for a passed deadline is made only
 * when it passes.
 */
class Delivering implements Dispatcher.DispatchHandler {
  readonly promise: Promise<void>
  readonly #context: DeliveryContext
  readonly #target: Target
  readonly #delivery: Delivery
  readonly #message: RoutedMessage
  readonly #timer: NodeJS.Timeout
  #resolve!: () => void
  #settled = false
  #controller: Dispatcher.DispatchController | undefined
  #status = 0
  #text: string | undefined
  #read = 0

  constructor(
    context: DeliveryContext,
    target: Target,
    delivery: Delivery,
    message: RoutedMessage,
  ) {
    this.#context = context
    this.#target = target
    this.#delivery = delivery
    this.#message = message
    this.promise = new Promise<void>((resolve) => {
      this.#resolve = resolve
    })
    this.#timer = setTimeout(this.#onDeadline, context.timeout)
    target.pool.dispatch(
      {
        origin: delivery.origin,
        method: 'POST',
        path: delivery.path,
        headers: context.headers,
        body: message.body,
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
    if (statusCode >= 300) this.#text = ''
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    // A 2xx body is not read: undici consumes it, which keeps the connection alive.
    if (this.#text === undefined) return
    this.#read += chunk.length
    if (this.#text.length < MAX_ERROR_TEXT) this.#text += chunk.toString('utf8')
    // A short body is read to its end so the socket can be reused; a long one is cut off, so
    // a rogue receiver cannot stream into the bus.
    if (this.#read >= ERROR_READ_LIMIT) {
      this.#answered()
      controller.abort(new Error('The error answer is longer than the bus reads.'))
    }
  }

  onResponseEnd(): void {
    this.#answered()
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.#controller = undefined
    if (!this.#settle()) return
    const log = this.#context.log
    const reason = this.#describeFailure(error)
    log.warn(
      { ...describe(this.#delivery, this.#message), err: error },
      `not delivered: ${consoleLine(this.#delivery, this.#message)}: ${reason}`,
    )
  }

  readonly #onDeadline = (): void => {
    if (!this.#settle()) return
    const timeout = this.#context.timeout
    const err = new Error(`The receiver did not answer within ${timeout} ms.`)
    this.#context.log.warn(
      { ...describe(this.#delivery, this.#message), err },
      `not delivered: ${consoleLine(this.#delivery, this.#message)}: the receiver did not answer within ${timeout} ms`,
    )
    const controller = this.#controller
    this.#controller = undefined
    controller?.abort(err)
  }

  #answered(): void {
    if (!this.#settle()) return
    const log = this.#context.log
    const status = this.#status
    if (status < 300) {
      // The hot path: no log object is built when info is off.
      if (log.isLevelEnabled?.('info') !== false) {
        log.info(
          describe(this.#delivery, this.#message),
          consoleLine(this.#delivery, this.#message),
        )
      }
      return
    }
    const text = this.#text ?? ''
    log.warn(
      {
        ...describe(this.#delivery, this.#message),
        status,
        response: text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT)}…` : text,
      },
      `not delivered: ${consoleLine(this.#delivery, this.#message)}: the receiver answered ${status}`,
    )
  }

  #settle(): boolean {
    if (this.#settled) return false
    this.#settled = true
    clearTimeout(this.#timer)
    this.#context.settled(this.#target)
    this.#resolve()
    return true
  }

  #describeFailure(err: unknown): string {
    const code = (err as { code?: unknown } | null)?.code
    if (typeof code === 'string' && TIMEOUT_CODES.has(code)) {
      return `the receiver did not answer within ${this.#context.timeout} ms`
    }
    return `the receiver is unreachable (${typeof code === 'string' ? code : String(err)})`
  }
}

/** The log fields of one delivery. */
function describe(delivery: Delivery, message: RoutedMessage): Record<string, unknown> {
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
function consoleLine(delivery: Delivery, message: RoutedMessage): string {
  return formatMessageLine(
    message.sender,
    message.publicName,
    delivery.internalName,
    delivery.service.name,
  )
}
