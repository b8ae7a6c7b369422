// The schema of the bus's event stream, `GET /events`: what the CLI's `tail`, the dev page and
// any tool read. Types only, shared by the bus and its clients.

/** The first event of every stream: the bus's version, so a tool knows what it talks to. */
export interface HelloEvent {
  readonly type: 'hello'
  /** ISO 8601, with milliseconds. */
  readonly time: string
  /** The version of `@exorelay/exocom`. */
  readonly version: string
}

/** The bus accepted a message from a sender (`POST /send`, or a message of the bus itself). */
export interface MessageEvent {
  readonly type: 'message'
  /** ISO 8601, with milliseconds: when the bus accepted it. */
  readonly time: string
  /** The message's id, as its sender made it. */
  readonly id: string
  /** The public name: the name the routing table knows it under. */
  readonly name: string
  /** The name as the sender sent it, when its internal namespace made it another public name. */
  readonly sentName?: string
  readonly sender: string
  /** The id of the message it answers, for a reply. */
  readonly responseTo?: string
  /** The services it goes to, one each; `[]` when none receives it. */
  readonly receivers: readonly string[]
  /** Bytes of its payload's JSON; `0` without a payload. */
  readonly size: number
  /**
   * The start of its payload's JSON, at most `eventPreview` bytes, then `…` when it was cut.
   * Only with the `eventPreview` option, and only for a message with a payload.
   */
  readonly preview?: string
}

/**
 * How one delivery ended:
 *
 * - `delivered`: the receiver answered 2xx.
 * - `no-receiver`: no service receives the name (the sender was answered 404); the event's
 *   `receiver` is `null`.
 * - `unreachable`: nothing listened at the receiver's address, or the connection failed.
 * - `refused`: the receiver answered another status (in `status`).
 * - `timeout`: no answer within `deliveryTimeout`, or it waited that long for a busy receiver.
 * - `busy`: the bus did not accept the message (the sender was answered 503
 *   `EXORELAY_ERR_BUS_RECEIVER_BUSY`): this receiver, or another of the message's receivers,
 *   had as many messages under way as the bus holds for one (`maxPending`,
 *   `maxPendingBytes`). No receiver of the message got it.
 * - `dropped`: the bus gave up on it: it was closing, or the receiver answered a batch with
 *   results the bus could not read.
 */
export type DeliveryOutcome =
  | 'delivered'
  | 'no-receiver'
  | 'unreachable'
  | 'refused'
  | 'timeout'
  | 'busy'
  | 'dropped'

/** One receiver's outcome for one message: one per receiver, or one for a message nobody receives. */
export interface DeliveryEvent {
  readonly type: 'delivery'
  /** ISO 8601, with milliseconds: when the outcome was known. */
  readonly time: string
  /** The message's id. */
  readonly id: string
  /** The public name. */
  readonly name: string
  /** The name the receiver knows it under, when its internal namespace makes it another. */
  readonly internalName?: string
  readonly sender: string
  /** The receiving service; `null` when none receives the message. */
  readonly receiver: string | null
  /** The receiving instance's id, when it registered with one. */
  readonly instance?: string
  /** The id of the message it answers, for a reply. */
  readonly responseTo?: string
  readonly outcome: DeliveryOutcome
  /** The receiver's HTTP status, when it answered. */
  readonly status?: number
  /** Milliseconds from the bus accepting the message to this outcome. */
  readonly durationMs: number
  /** Why it was not delivered: the receiver's `exorelay-error-code` and text, or the bus's reason. */
  readonly error?: { readonly code?: string; readonly message: string }
}

/**
 * A service's entry in the routing table changed: `registered` (new or changed by itself, or
 * listed in an operator's table, changed or not; a relay's unchanged re-registration every
 * few seconds is no event),
 * `withdrawn` (it left, or an operator's table left it out) or `dropped` (the bus found it
 * dead: it stopped registering, or nothing listened at its address).
 */
export interface ServiceEvent {
  readonly type: 'service'
  /** ISO 8601, with milliseconds. */
  readonly time: string
  readonly service: string
  /** The instance's id, when it registered with one. */
  readonly instance?: string
  readonly change: 'registered' | 'withdrawn' | 'dropped'
  readonly host?: string
  readonly port?: number
  /** The names it receives, as it listed them. */
  readonly receives?: readonly string[]
  /** The names it sends, when it listed them. */
  readonly sends?: readonly string[]
}

/** Every event of the bus's event stream (`GET /events`), told apart by `type`. */
export type BusEvent = HelloEvent | MessageEvent | DeliveryEvent | ServiceEvent
