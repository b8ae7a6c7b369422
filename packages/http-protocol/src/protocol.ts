import { authorizationHeader } from './token.js'

/**
 * Facts of the ExoCom HTTP protocol shared by the listener, the sender and the bus, so that
 * each side spells paths and headers the same way. See docs/protocol.md.
 */

/** Response header carrying the ExoRelay error code of a non-2xx answer; the body stays the original's text. */
export const ERROR_CODE_HEADER = 'exorelay-error-code'

/** Path a relay posts to on ExoCom. Names are URL-encoded (the original relay did not). */
export function sendPath(name: string): string {
  return `/send/${encodeURIComponent(name)}`
}

/** Path ExoCom posts to on a relay. */
export function runPath(name: string): string {
  return `/run/${encodeURIComponent(name)}`
}

/** Path of the self-registration extension: `PUT` registers a service, `DELETE` withdraws it. */
export function servicePath(name: string): string {
  return `/services/${encodeURIComponent(name)}`
}

/**
 * Whether the bus answered a registration with 404 or 405: it has no self-registration
 * extension (the original ExoCom), so the relay relies on the operator's table.
 */
export function lacksSelfRegistration(status: number): boolean {
  return status === 404 || status === 405
}

/**
 * The headers of a request to a peer: JSON in (when it has a body) and out, and the shared
 * secret when there is one. The same for the relay's sends and the bus's deliveries.
 */
export function requestHeaders(token: string | undefined, withBody = true): Record<string, string> {
  const headers: Record<string, string> = withBody
    ? { 'content-type': 'application/json', accept: 'application/json' }
    : { accept: 'application/json' }
  if (token !== undefined) headers.authorization = authorizationHeader(token)
  return headers
}

/**
 * One service in ExoCom's routing table: the shape the original orchestrator sent in
 * `POST /services`, and the body of the self-registration extension `PUT /services/:name`.
 */
export interface ServiceRegistration {
  name: string
  host: string
  port: number
  /**
   * The id of this instance of the service, e.g. random characters each relay makes (an
   * extension, decision 0017). Several instances of one service register under one name, each
   * with its own id; the bus sends each message to one of them, in turn, and a reply to the
   * instance whose message `instance` named it. Absent: the bus tells instances apart by
   * address.
   */
  instance?: string
  /**
   * The namespace the service knows its own messages under: the public `tweets.create`
   * reaches the service `tweets` as `<internalNamespace>.create`, and what it sends as
   * `<internalNamespace>.created` leaves as `tweets.created`. Absent for none (on the wire,
   * `''` and `null` mean none too).
   */
  internalNamespace?: string
  /**
   * Message names the service handles. With an internal namespace they may be listed in the
   * service's own names (as its `service.yml` has them): the first dotted segment stands for
   * the service, so `text-snippet.create` listed by `tweets` receives `tweets.create`.
   */
  receives: string[]
  /** Message names the service sends (informational; the bus does not enforce it). */
  sends?: string[]
  /**
   * The batch extension: the service accepts `POST /run` with a JSON array of messages
   * (decision 0011). Absent or `false`: every delivery is one `POST /run/<name>`.
   */
  batches?: boolean
  /**
   * The service understands error replies (`__error`, an extension): the bus delivers them to
   * it. Absent or `false` (every `POST /services` entry the original's orchestrator writes,
   * every original relay): the bus never does, because an original relay would take the error for a
   * successful reply; it logs the error reply instead, and the requester times out as it did
   * with the original bus.
   */
  errorReplies?: boolean
  /**
   * The service understands cancellations (`__cancel`, an extension, decision 0019): the bus
   * delivers the cancellation of a request it took to it. Absent or `false`: never.
   */
  cancels?: boolean
  /**
   * Milliseconds between the service's registrations (a relay's `registerInterval`), at most
   * `MAX_REGISTER_INTERVAL`. The bundled bus drops a self-registered service that has not
   * registered for three of them. Absent: 5,000, a relay's default.
   */
  registerInterval?: number
}

/**
 * How often a relay registers again unless told otherwise, so that a restarted bus relearns
 * it; a bus takes a registration that states no `registerInterval` to mean this one.
 */
export const DEFAULT_REGISTER_INTERVAL = 5_000

/**
 * The longest `registerInterval` a registration may state: a service that registers less often
 * would stay routed for minutes after it died.
 */
export const MAX_REGISTER_INTERVAL = 60_000

/**
 * `DELETE /services/<name>`, or `DELETE /services/<name>?instance=<id>` to withdraw one
 * instance of the service alone.
 */
export function withdrawalPath(name: string, instance: string | undefined): string {
  const path = servicePath(name)
  return instance === undefined ? path : `${path}?instance=${encodeURIComponent(instance)}`
}
