/** The most requests whose reply subjects are remembered at once; the oldest go first. */
export const DEFAULT_ROUTE_LIMIT = 100_000
/** The longest a reply subject is remembered, also for requests that wait for ever: 1 hour. */
export const MAX_ROUTE_TTL = 3_600_000
/**
 * How much longer than its requester waits a route is kept: a reply just past the deadline
 * still reaches the requester, which drops it quietly, instead of being sent by name.
 */
export const ROUTE_GRACE = 5_000

interface Route {
  readonly subject: string
  readonly expires: number
}

/**
 * The receiving side's memory of where replies go: request id → the requester's inbox. A
 * handler's `reply()` names only the id it answers, and one request may get several replies,
 * so a route lives until the requester stops waiting (the request's timeout, counted from
 * its arrival here, plus a grace), bounded in count so that a flood of requests cannot grow
 * it without end.
 */
export class ReplyRoutes {
  readonly #routes = new Map<string, Route>()
  readonly #limit: number
  readonly #now: () => number

  constructor(options: { limit?: number; now?: () => number } = {}) {
    this.#limit = options.limit ?? DEFAULT_ROUTE_LIMIT
    this.#now = options.now ?? Date.now
  }

  get size(): number {
    return this.#routes.size
  }

  /** Remembers where replies to `id` go while its requester waits `timeout` ms (plus a grace, at most an hour). */
  remember(id: string, subject: string, timeout: number): void {
    const now = this.#now()
    // Re-inserting keeps the map in arrival order, which is what the sweep relies on.
    this.#routes.delete(id)
    this.#routes.set(id, { subject, expires: now + Math.min(timeout + ROUTE_GRACE, MAX_ROUTE_TTL) })
    this.#sweep(now)
  }

  /** The reply subject for `id`, or `undefined` when unknown or expired. */
  get(id: string): string | undefined {
    const route = this.#routes.get(id)
    if (route === undefined) return undefined
    if (route.expires <= this.#now()) {
      this.#routes.delete(id)
      return undefined
    }
    return route.subject
  }

  // Oldest first: stops at the first live route within the limit. A long-lived route can
  // shield shorter ones behind it for a while; the limit still bounds the map.
  #sweep(now: number): void {
    for (const [id, route] of this.#routes) {
      if (this.#routes.size <= this.#limit && route.expires > now) return
      this.#routes.delete(id)
    }
  }
}
