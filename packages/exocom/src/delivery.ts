import { ErrorCodes, type Logger } from '@exorelay/core'
import { textStart } from '@exorelay/core/internal'
import { batchEntry, DEFAULT_BATCH_AFTER, requestHeaders } from '@exorelay/http-protocol'
import { BatchQueue, createPool, nodeTimers } from '@exorelay/undici-sender/internal'
import type { EventStream } from './event-stream.js'
import {
  BatchDelivering,
  bodyBytes,
  Delivering,
  type DeliveryContext,
  logFailed,
  type Queued,
  type RoutedMessage,
  type Target,
} from './exchange.js'
import { type Delivery, originOf, type ServiceAddress } from './routing-table.js'

export type { RoutedMessage } from './exchange.js'

export interface DeliveryOptions {
  /** Milliseconds one request may take in all: waiting for a connection, connecting, answering. */
  readonly timeout: number
  readonly logger: Logger
  /** Where each delivery's outcome is told, besides the log. */
  readonly events: EventStream
  /** The shared secret, sent as `authorization: Bearer <token>` with every delivery. */
  readonly token?: string | undefined
  /**
   * Identity mode: the token a receiver's deliveries carry, by its service name (`undefined`:
   * none), instead of `token`. Each service then has pools of its own, so that no request
   * ever carries one service's token to another.
   */
  readonly tokenOf?: ((service: string) => string | undefined) | undefined
  /**
   * Messages that may be under way to one receiver, queued ones included: `busy()` says when a
   * message would pass it, so that the bus refuses it. Default `DEFAULT_MAX_PENDING`.
   */
  readonly maxPending?: number | undefined
  /**
   * Bytes of bodies (their JSON's length) that may be under way to one receiver, queued ones
   * included; a message to a receiver with nothing under way is never busy, whatever its size.
   * Default `DEFAULT_MAX_PENDING_BYTES`.
   */
  readonly maxPendingBytes?: number | undefined
  /** Send batches to receivers that offered them (decision 0011). Default `true`. */
  readonly batches?: boolean | undefined
  /**
   * Requests under way to a receiver that takes batches before further messages to it wait,
   * and leave together when one of those requests ends. Default `DEFAULT_BATCH_AFTER` (2).
   */
  readonly batchAfter?: number | undefined
  /**
   * A message was not taken because nothing listened at the receiver's address (the
   * connection was refused), or its delivery could not start. Returns whether it went on to
   * another instance of the service; when it did not, a refused connection is logged as the
   * message's failure after this call.
   */
  readonly onUnreachable?:
    | ((delivery: Delivery, message: RoutedMessage, since: number) => boolean)
    | undefined
  /** The receiver answered 401 to a message: it wants another token than the bus's. */
  readonly onTokenRefused?: ((delivery: Delivery, message: RoutedMessage) => void) | undefined
}

/** A receiver that cannot take one more message now: why `Deliverer.busy` refused it. */
export interface BusyReceiver {
  readonly delivery: Delivery
  /** Messages under way to it. */
  readonly pending: number
  /** The bytes of their bodies. */
  readonly pendingBytes: number
  /** Which limit the message would pass. */
  readonly limit: 'maxPending' | 'maxPendingBytes'
  /** That limit's value. */
  readonly max: number
}

/**
 * What the sender of `message` is told when `busy` refused it: the receiver, what is under way
 * to it, the limit, and what to do.
 */
export function busyText(busy: BusyReceiver, message: RoutedMessage): string {
  const { delivery, pending, pendingBytes, limit, max } = busy
  const { name, instance } = delivery.service
  const receiver = `'${name}'${instance === undefined ? '' : ` (instance '${instance}')`}`
  const full =
    limit === 'maxPending'
      ? `has ${pending} messages under way, as many as ExoCom holds for one receiver (maxPending ${max})`
      : `has ${pending} messages with ${pendingBytes} bytes of bodies under way, and this one's ${message.body.length} bytes would pass what ExoCom holds for one receiver (maxPendingBytes ${max})`
  const none = message.receivers > 1 ? ` to any of its ${message.receivers} receivers` : ''
  return `ExoCom did not accept the message '${message.publicName}': its receiver ${receiver} ${full}. Nothing was delivered${none}. The receiver is slow or hung: find out why it does not answer, or send less at once; raise ExoCom's ${limit} if the receiver keeps up with more. Send it again later.`
}

/** What the deliverer holds right now; for tests and diagnostics. */
export interface DeliveryStats {
  /** Receiver origins with a pool. */
  readonly pools: number
  /** Messages accepted for delivery and not yet settled, over all receivers. */
  readonly pending: number
  /** Open connections over all pools. */
  readonly connections: number
}

// Enough parallel deliveries to one receiver for any development load, while a flood of
// messages to a hanging receiver cannot open sockets without bound: the rest wait in the pool.
const CONNECTIONS_PER_RECEIVER = 64
// What waits in a pool or a batch queue holds its body: a receiver that hangs while messages
// keep coming must not grow the bus's memory without bound, so the bus refuses messages to a
// receiver past either limit (503 `BUS_RECEIVER_BUSY`) rather than accept them. Each request
// ends within the timeout anyway, and the queue leaves when one does.
// 10,000: ten times what one relay keeps in flight at 1,024 concurrent requests, so that a
// busy but healthy receiver is never refused; what that holds is bounded by the bytes below.
// 64 MiB: 64 bodies at the default bodyLimit of 1 MiB, or 10,000 of 6.5 KiB; a bus with many
// receivers that all hang could hold that much for each, for at most the delivery timeout.
export const DEFAULT_MAX_PENDING = 10_000
export const DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024
const RESOLVED: Promise<void> = Promise.resolve()

/**
 * Posts routed messages to their receivers over one keep-alive undici Pool per receiver
 * origin. A delivery never throws: a receiver that is down, answers non-2xx or times out is
 * logged as a warning, and the bus carries on. Receivers never wait for each other: each has
 * its own pool, and each request ends within the timeout.
 *
 * To a receiver that offered batches, a message goes out at once and alone
 * (`POST /run/<name>`) while fewer than `batchAfter` requests to it are under way; beyond
 * that it waits in the receiver's queue, and when one of those requests ends, what waits
 * leaves as one `POST /run` (decision 0011). A queued message costs no timer and no promise:
 * the requests under way end within the timeout, and each end sends the queue on.
 */
export class Deliverer {
  readonly #timeout: number
  readonly #log: Logger
  readonly #tokenOf: ((service: string) => string | undefined) | undefined
  readonly #token: string | undefined
  readonly #maxPending: number
  readonly #maxPendingBytes: number
  readonly #batches: boolean
  readonly #batchAfter: number
  readonly #targets = new Map<string, Target>()
  readonly #context: DeliveryContext
  #active = 0
  #idle: Array<() => void> = []
  #closed = false

  constructor(options: DeliveryOptions) {
    this.#timeout = options.timeout
    this.#log = options.logger
    this.#maxPending = options.maxPending ?? DEFAULT_MAX_PENDING
    this.#maxPendingBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES
    this.#batches = options.batches ?? true
    this.#batchAfter = options.batchAfter ?? DEFAULT_BATCH_AFTER
    this.#token = options.token
    this.#tokenOf = options.tokenOf
    this.#context = {
      timeout: this.#timeout,
      log: this.#log,
      events: options.events,
      ended: (target, count, bytes) => {
        target.requests--
        target.pending -= count
        target.pendingBytes -= bytes
        this.#active -= count
        if (target.queue.waiting > 0) target.queue.flush(false)
        if (this.#active === 0 && this.#idle.length > 0) this.#resolveIdle()
      },
      unreachable: options.onUnreachable ?? (() => false),
      tokenRefused: options.onTokenRefused ?? (() => {}),
      refused: (target, items, status) => {
        // A receiver that does not know the batch route lost it in a restart or was never
        // what it registered as; one that answers 413 has a body limit under a batch's size.
        // Either gets single requests until it registers with batches again.
        target.queue.on = false
        this.#log.warn(
          { receiver: items[0]?.delivery.service.name, status, messages: items.length },
          `the receiver answered ${status} to a batch of ${items.length} messages: they go again one by one; no more batches to it until it registers with batches again`,
        )
        if (this.#targets.get(target.key) !== target) {
          // Withdrawn (or registered elsewhere) while the batch was under way: its pool is
          // closing, and the messages were never taken.
          for (const { delivery, message } of items) {
            logFailed(
              this.#context,
              delivery,
              message,
              'refused',
              `the receiver refused a batch with ${status} after it was withdrawn`,
            )
          }
          return
        }
        // Still counted as pending: they are the same messages, on their way again.
        target.pending += items.length
        target.pendingBytes += bodyBytes(items)
        this.#active += items.length
        for (const { delivery, message } of items) this.#single(target, delivery, message)
      },
    }
  }

  /**
   * The first of `deliveries` whose receiver cannot take one more message with a body of
   * `bytes` now: it has `maxPending` messages under way, or their bodies and this one's would
   * pass `maxPendingBytes` (a receiver with nothing under way takes a message of any size).
   * The bus asks before it accepts a message, and refuses it for every receiver when one is
   * busy: once accepted, a delivery is never dropped for the limits (two receivers at one
   * origin may pass them by one message each, which is bounded by the services there).
   */
  busy(deliveries: readonly Delivery[], bytes: number): BusyReceiver | undefined {
    for (const delivery of deliveries) {
      const target = this.#targets.get(this.#key(delivery.service.name, delivery.origin))
      if (target === undefined) continue
      const { pending, pendingBytes } = target
      if (pending >= this.#maxPending) {
        return { delivery, pending, pendingBytes, limit: 'maxPending', max: this.#maxPending }
      }
      if (pending > 0 && pendingBytes + bytes > this.#maxPendingBytes) {
        return {
          delivery,
          pending,
          pendingBytes,
          limit: 'maxPendingBytes',
          max: this.#maxPendingBytes,
        }
      }
    }
    return undefined
  }

  /**
   * Sends the message to the receiver at once, or queues it for a batch. The request is handed
   * to the pool (or the message to the queue) before this returns, so the bus may answer the
   * sender right away. Its outcome is logged; `idle()` waits for it.
   */
  deliver(delivery: Delivery, message: RoutedMessage): void {
    if (this.#closed) {
      logFailed(this.#context, delivery, message, 'dropped', 'ExoCom is closing')
      return
    }
    let target: Target
    try {
      target = this.#target(delivery)
    } catch (error) {
      // A receiver the bus cannot even address fails its own delivery, never the message
      // for the sender or for the other receivers.
      this.#failedToStart(delivery, message, error)
      return
    }
    // No check of the limits here: the bus asked `busy()` before it accepted the message, and
    // dropping it now would leave its sender waiting for nothing. A message that liveness sends
    // on to another instance (its first was unreachable) goes too, past the limits if need be:
    // it was accepted, and its first delivery no longer counts.
    target.pending++
    target.pendingBytes += message.body.length
    this.#active++
    // Behind messages that wait already, a message waits too: the receiver gets them in order.
    if (target.queue.holds()) {
      target.queue.push({ delivery, message, since: performance.now() })
      return
    }
    try {
      this.#single(target, delivery, message)
    } catch (error) {
      target.requests--
      target.pending--
      target.pendingBytes -= message.body.length
      this.#active--
      if (this.#active === 0 && this.#idle.length > 0) this.#resolveIdle()
      this.#failedToStart(delivery, message, error)
    }
  }

  #failedToStart(delivery: Delivery, message: RoutedMessage, error: unknown): void {
    const err = error instanceof Error ? error : new Error(String(error))
    const reason = `ExoCom could not start the delivery (${ErrorCodes.BUS_FAILED}): ${textStart(err.message)}`
    // As unreachable as a refused connection: nothing will ever take it there.
    if (this.#context.unreachable(delivery, message, performance.now())) {
      this.#context.events.delivery(delivery, message, 'unreachable', undefined, reason)
      return
    }
    logFailed(this.#context, delivery, message, 'unreachable', reason, err)
  }

  /**
   * Takes note of services that registered: those that offer batches get them again after a
   * refusal; to those that do not, what waits for a batch goes at once, one by one.
   */
  registered(services: readonly ServiceAddress[]): void {
    for (const service of services) {
      const target = this.#targets.get(this.#key(service.name, originOf(service)))
      if (target === undefined) continue
      target.queue.on = this.#batches && service.batches === true
      if (!target.queue.on) target.queue.flush(true)
    }
  }

  /** What the deliverer holds right now. */
  stats(): DeliveryStats {
    let connections = 0
    for (const { pool } of this.#targets.values()) connections += pool.stats.connected
    return { pools: this.#targets.size, pending: this.#active, connections }
  }

  /** Resolves once no message is under way or queued. */
  idle(): Promise<void> {
    if (this.#active === 0) return RESOLVED
    return new Promise<void>((resolve) => {
      this.#idle.push(resolve)
    })
  }

  /**
   * Closes the pools of origins that no registered service uses any more. What waits for a
   * batch to them is sent at once, and with the deliveries in flight it finishes first
   * (undici's graceful close), as the receiver was sent it while it was registered.
   */
  retain(services: readonly ServiceAddress[]): void {
    const wanted = new Set(services.map((service) => this.#key(service.name, originOf(service))))
    for (const [key, target] of this.#targets) {
      if (wanted.has(key)) continue
      this.#targets.delete(key)
      target.queue.flush(true)
      void target.pool.close().catch(() => {})
    }
  }

  /**
   * Refuses new deliveries, sends at once what waits for a batch, waits for every request
   * (each bounded by the timeout), then closes every pool.
   */
  async close(): Promise<void> {
    this.#closed = true
    for (const target of this.#targets.values()) target.queue.flush(true)
    await this.idle()
    const pools = [...this.#targets.values()].map(({ pool }) => pool)
    this.#targets.clear()
    await Promise.all(pools.map((pool) => pool.close()))
  }

  #single(target: Target, delivery: Delivery, message: RoutedMessage): void {
    target.requests++
    new Delivering(this.#context, target, delivery, message)
  }

  #resolveIdle(): void {
    const idle = this.#idle
    this.#idle = []
    for (const resolve of idle) resolve()
  }

  /** A receiver's pool: one per origin, or per service and origin in identity mode. */
  #key(service: string, origin: string): string {
    return this.#tokenOf === undefined ? origin : `${service} ${origin}`
  }

  #target(delivery: Delivery): Target {
    const origin = delivery.origin
    const key = this.#key(delivery.service.name, origin)
    let target = this.#targets.get(key)
    if (target === undefined) {
      const pool = createPool(origin, {
        connections: CONNECTIONS_PER_RECEIVER,
        headersTimeout: this.#timeout,
        bodyTimeout: this.#timeout,
        connect: { timeout: this.#timeout },
      })
      const timeout = this.#timeout
      const log = this.#log
      // The queue's callbacks run only once the target exists.
      const token = this.#tokenOf === undefined ? this.#token : this.#tokenOf(delivery.service.name)
      const created: Target = {
        origin,
        key,
        headers: requestHeaders(token),
        dispatcher: pool,
        timers: nodeTimers,
        retryBudget: 0,
        log,
        dispatcherTimeout: timeout,
        pool,
        pending: 0,
        pendingBytes: 0,
        requests: 0,
        queue: new BatchQueue<Queued>(
          {
            underWay: () => created.requests,
            // The receiver's (translated) name in front of the body serialised once per message.
            entry: ({ delivery, message }) => batchEntry(delivery.internalName, message.body),
            settled: () => false,
            // A receiver that hangs must not get a burst of stale messages once it recovers:
            // what waited the whole delivery timeout is logged as a delivery that timed out.
            expired: ({ since }, now) => since <= now - timeout,
            expire: ({ delivery, message }) => {
              logFailed(
                this.#context,
                delivery,
                message,
                'timeout',
                `it waited ${timeout} ms for the receiver, which was busy with earlier deliveries`,
              )
              created.pending--
              created.pendingBytes -= message.body.length
              this.#active--
              if (this.#active === 0) this.#resolveIdle()
            },
            sendAlone: ({ delivery, message }) => this.#single(created, delivery, message),
            sendBatch: (items, body) => {
              created.requests++
              new BatchDelivering(this.#context, created, items, body)
            },
          },
          this.#batchAfter,
          this.#batches && delivery.service.batches === true,
        ),
      }
      target = created
      this.#targets.set(key, target)
    }
    return target
  }
}
