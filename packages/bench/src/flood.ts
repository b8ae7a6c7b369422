import type { ServiceRegistration } from '@exorelay/exocom'
import { median, percentile } from './stats.js'

/**
 * The registration flood (issue 14, "registration is cheap"): many services that each send
 * their unchanged registration to the bus once a second, as a large landscape's relays do on
 * their refresh timer. What the bus's normal traffic loses to them is the figure.
 */

/** Services re-registering each second when `--flood-services` is not given. */
export const DEFAULT_FLOOD_SERVICES = 1000
/** A flood service's registration is sent again this often, in milliseconds. */
export const FLOOD_PERIOD = 1000
/**
 * How long one re-registration may take before it counts as failed: the relay's own
 * `REGISTER_TIMEOUT` (@exorelay/http-transport), so a PUT fails here when a relay's would.
 */
export const FLOOD_PUT_TIMEOUT = 2000
/** How long the first registration of every service may take, before the flood starts. */
export const FLOOD_FIRST_PUT_TIMEOUT = 20_000
/** Keep-alive connections the flood process holds to the bus. */
export const FLOOD_CONNECTIONS = 16
/** How often the flood process sends what is due: 1,000 services a second is 5 per tick. */
export const FLOOD_TICK = 5

// What each flood service receives: names the benchmark never sends, so the bus never
// delivers to the flood services' addresses, where nothing listens.
const FLOOD_NAMES = ['ping', 'status', 'create', 'delete'] as const

/** The name of flood service `index`: `svc-0`, `svc-1`, … */
export function floodServiceName(index: number): string {
  return `svc-${index}`
}

/**
 * The registration flood service `index` sends, each time the same: the fields a relay of
 * the `exorelay` package sends (batches and error replies offered), a port of its own.
 */
export function floodRegistration(index: number): ServiceRegistration {
  const name = floodServiceName(index)
  return {
    name,
    host: '127.0.0.1',
    // Distinct origins, as distinct services have; nothing listens there.
    port: 20_000 + (index % 40_000),
    receives: FLOOD_NAMES.map((suffix) => `${name}.${suffix}`),
    batches: true,
    errorReplies: true,
  }
}

/**
 * The self-registration path, `PUT /services/<name>` (docs/protocol.md). Spelled out here as
 * the floor spells its paths: the benchmark's clients speak the protocol from the outside.
 */
export function registrationPath(name: string): string {
  return `/services/${encodeURIComponent(name)}`
}

/**
 * How many re-registrations are due `elapsedMs` after the flood started, when each of
 * `services` registers once per `periodMs`, spread evenly: service `i % services` is the
 * `i`-th one due, so every service comes round once per period.
 */
export function dueBy(elapsedMs: number, services: number, periodMs = FLOOD_PERIOD): number {
  if (elapsedMs <= 0) return 0
  return Math.floor((elapsedMs * services) / periodMs)
}

/** What the flood did between two readings; what `registrations` answers over IPC. */
export interface RegistrationCounts {
  /** Milliseconds between the two readings. */
  readonly elapsedMs: number
  /** Re-registrations due by the schedule. */
  readonly due: number
  /** PUTs the bus answered 200. */
  readonly completed: number
  /** PUTs that got another status, an error or no answer within `FLOOD_PUT_TIMEOUT`. */
  readonly failed: number
  /** Due while the same service's previous PUT was still under way, so not sent. */
  readonly skipped: number
  readonly firstError: string | undefined
  /** PUTs completed in each whole second since the previous reading. */
  readonly perSecond: readonly number[]
  /** Time from sending a PUT to its answer, in milliseconds; absent when none completed. */
  readonly latencyMs:
    | { readonly median: number; readonly p99: number; readonly max: number }
    | undefined
}

/**
 * Counts the flood's PUTs between two readings, by the caller's clock (milliseconds), so
 * that a test can drive it. `read()` returns what happened since the previous reading (or
 * since construction) and starts counting afresh.
 */
export class RegistrationTally {
  #since: number
  #due = 0
  #failed = 0
  #skipped = 0
  #firstError: string | undefined
  #perSecond: number[] = []
  #latencies: number[] = []

  constructor(now: number) {
    this.#since = now
  }

  /** A re-registration fell due; `sent: false` when its previous PUT was still under way. */
  due(sent: boolean): void {
    this.#due++
    if (!sent) this.#skipped++
  }

  /** A PUT was answered 200 at `now`, `latencyMs` after it was sent. */
  completed(now: number, latencyMs: number): void {
    const second = Math.max(0, Math.floor((now - this.#since) / 1000))
    while (this.#perSecond.length <= second) this.#perSecond.push(0)
    this.#perSecond[second]!++
    this.#latencies.push(latencyMs)
  }

  failed(error: unknown): void {
    this.#failed++
    this.#firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  }

  read(now: number): RegistrationCounts {
    const elapsedMs = now - this.#since
    const whole = Math.floor(elapsedMs / 1000)
    const perSecond = Array.from({ length: whole }, (_, second) => this.#perSecond[second] ?? 0)
    const sorted = this.#latencies.sort((a, b) => a - b)
    const counts: RegistrationCounts = {
      elapsedMs,
      due: this.#due,
      completed: sorted.length,
      failed: this.#failed,
      skipped: this.#skipped,
      firstError: this.#firstError,
      perSecond,
      latencyMs:
        sorted.length === 0
          ? undefined
          : { median: median(sorted), p99: percentile(sorted, 99), max: sorted.at(-1)! },
    }
    this.#since = now
    this.#due = 0
    this.#failed = 0
    this.#skipped = 0
    this.#firstError = undefined
    this.#perSecond = []
    this.#latencies = []
    return counts
  }
}
