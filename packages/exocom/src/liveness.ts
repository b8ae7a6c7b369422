import { randomUUID } from 'node:crypto'
import { type Envelope, ErrorCodes, type Logger } from '@exorelay/core'
import { ERROR_REPLY } from '@exorelay/core/internal'
import type { BatchResult } from '@exorelay/http-protocol'
import type { RoutedMessage } from './delivery.js'
import type { EventStream } from './event-stream.js'
import { consoleLine, describe } from './exchange.js'
import {
  type Delivery,
  MISSED_REGISTRATIONS,
  type RoutingTable,
  registerIntervalOf,
  silenceAllowed,
} from './routing-table.js'

/** How often the bus looks for self-registered services that stopped registering. */
const SWEEP_INTERVAL = 250

/** The sender of what the bus says by itself: it is no service of the table. */
const BUS_SENDER = 'exocom'

export interface LivenessOptions {
  readonly table: RoutingTable
  readonly logger: Logger
  /** Where dropped services are told, for the clients of `GET /events`. */
  readonly events: EventStream
  /** Routes a message as if a service had posted it (the bus's ingress). */
  readonly route: (envelope: Envelope) => BatchResult
  /** Called after services were dropped: the deliverer closes what it held for them. */
  readonly dropped: () => void
  /** Whether the bus has per-service credentials: a token refused then needs other advice. */
  readonly identity: boolean
  /** Delivers a message again, to another instance (the deliverer's `deliver`). */
  readonly redeliver: (delivery: Delivery, message: RoutedMessage) => void
}

/**
 * Keeps the routing table to instances that are alive, so that a dead one is no black hole:
 * a self-registered instance that missed `MISSED_REGISTRATIONS` registrations is dropped, and
 * so is one where nothing listened when the bus delivered (it comes back when it registers).
 * A message that found nothing listening goes to another instance of the service, if it has
 * one: it was never taken, so it is never handled twice. The requester of a request whose
 * only receiver was not there learns it at once, as an error reply
 * (`EXORELAY_ERR_TRANSPORT_RECEIVER_UNREACHABLE`) when it understands them, instead of
 * waiting for its deadline; so does one whose only receiver refused the bus's token
 * (`EXORELAY_ERR_AUTH_UNAUTHORIZED`).
 */
export class Liveness {
  readonly #options: LivenessOptions
  readonly #sweep: NodeJS.Timeout

  constructor(options: LivenessOptions) {
    this.#options = options
    this.#sweep = setInterval(() => this.#expire(), SWEEP_INTERVAL).unref()
  }

  /**
   * Nothing listened at the receiver's address: `message` was never taken. `since`: when the
   * request was made; a service that registered after that is not dropped.
   */
  unreachable(delivery: Delivery, message: RoutedMessage, since: number): boolean {
    const { table, logger } = this.#options
    const service = delivery.service.name
    const dropped = table.dropUnreachable(service, delivery.origin, since)
    if (dropped) {
      this.#options.dropped()
      this.#options.events.service('dropped', delivery.service)
      const left = table.instancesOf(service)
      logger.warn(
        { service, origin: delivery.origin, instance: delivery.service.instance, left },
        left === 0
          ? `service '${service}' dropped: nothing listens at ${delivery.origin}; it is routed again once it registers`
          : `an instance of the service '${service}' dropped: nothing listens at ${delivery.origin}; ${left} left; it is routed again once it registers`,
      )
    }
    // Dropped now, or by a delivery that failed before this one: the next live instance takes
    // the message. Each step drops an instance or stops, so it ends. A reply is not sent on:
    // only the instance that asked waits for it.
    const next =
      message.responseTo === undefined && (dropped || !table.holds(delivery))
        ? table.alternative(delivery, message.publicName)
        : undefined
    if (next !== undefined) {
      logger.info(
        { ...describe(delivery, message), from: delivery.origin, to: next.origin },
        `re-routed: ${consoleLine(delivery, message)}: nothing listened at ${delivery.origin}, so it goes to the instance at ${next.origin}`,
      )
      this.#options.redeliver(next, message)
      return true
    }
    this.#tellRequester(message, {
      code: ErrorCodes.RECEIVER_UNREACHABLE,
      message:
        `The service '${service}', the only receiver of '${message.publicName}', is unreachable: nothing listens at ${delivery.origin}.` +
        (dropped || !table.has(service)
          ? ' ExoCom dropped it; it is routed again once it registers.'
          : ' Start it, or correct its address in the routing table.'),
    })
    return false
  }

  /**
   * The receiver answered 401: it has another token than the bus (or the bus has none). The
   * relay there reports it; its requester learns it at once too.
   */
  tokenRefused(delivery: Delivery, message: RoutedMessage): void {
    this.#tellRequester(message, {
      code: ErrorCodes.UNAUTHORIZED,
      message: `The service '${delivery.service.name}', the only receiver of '${message.publicName}', refused it for ExoCom's token (401): ${
        this.#options.identity
          ? `give the relay of '${delivery.service.name}' its own token from ExoCom's credentials file (EXOCOM_TOKEN, the token option).`
          : 'start ExoCom and every relay with the same EXOCOM_TOKEN (the token option).'
      }`,
    })
  }

  /**
   * Answers the requester of `message` at once with an error reply, when nobody else can
   * answer it: a request (not a reply) to one receiver, from a requester that understands
   * error replies.
   */
  #tellRequester(message: RoutedMessage, payload: { code: string; message: string }): void {
    const { table, logger } = this.#options
    // A reply, or a request that others received: nobody waits in vain because of this one.
    if (message.responseTo !== undefined || message.receivers !== 1) return
    // An original relay would take an error reply for a success (see the ingress); it times
    // out as it always did, and the failed delivery is in the log already.
    if (!table.understandsErrorReplies(message.sender, message.instance)) return
    const result = this.#options.route({
      name: ERROR_REPLY,
      id: randomUUID(),
      sender: BUS_SENDER,
      responseTo: message.id,
      payload,
    })
    if (result.status >= 300) {
      logger.debug(
        { messageId: message.id, status: result.status },
        `the requester of '${message.publicName}' was not told (${payload.code}): ${result.error ?? ''}`,
      )
    }
  }

  /** Stops looking for services that stopped registering. */
  close(): void {
    clearInterval(this.#sweep)
  }

  #expire(): void {
    const dropped = this.#options.table.expire()
    if (dropped.length === 0) return
    this.#options.dropped()
    for (const service of dropped) {
      this.#options.events.service('dropped', service)
      const interval = registerIntervalOf(service)
      const left = this.#options.table.instancesOf(service.name)
      const what =
        left === 0
          ? `service '${service.name}' dropped`
          : `an instance of the service '${service.name}' dropped (${left} left)`
      this.#options.logger.warn(
        {
          service: service.name,
          host: service.host,
          port: service.port,
          instance: service.instance,
          left,
        },
        `${what}: it has not registered for ${silenceAllowed(service)} ms (it registers every ${interval} ms; ${MISSED_REGISTRATIONS} missed, or at least 1 s); it is routed again once it registers`,
      )
    }
  }
}
