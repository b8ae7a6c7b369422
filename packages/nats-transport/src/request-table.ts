import { RecentMap } from '@exorelay/core/internal'

/** The most requests remembered at once; the oldest go first. */
export const DEFAULT_REQUEST_LIMIT = 100_000
/** The longest a request is remembered, also one whose requester waits for ever: 1 hour. */
export const MAX_REQUEST_TTL = 3_600_000
/** How much longer than its requester waits a request is remembered, so that no entry ends early. */
export const REQUEST_GRACE = 5_000

interface Entry<V> {
  readonly value: V
  readonly expires: number
}

export interface RequestTableOptions<V> {
  /** The most entries at once; the oldest go first. Default 100,000. */
  limit?: number
  /** The clock (tests). Default `Date.now`. */
  now?: () => number
  /** Called with each entry that is dropped unused: expired, over the limit, replaced or cleared. */
  onDrop?: (value: V) => void
}

/**
 * What the sending transport remembers per request while its relay waits for the reply: how
 * to settle it should the server say that nobody receives it. An entry is valid for the
 * request's timeout, counted from now, plus a grace, at most an hour. The table is bounded in
 * count, so that a flood of requests cannot grow it without end: a `RecentMap` of half the
 * limit per generation, which also starts a new generation once the current one is an hour
 * old, so that entries nobody took do not stay for ever.
 */
export class RequestTable<V> {
  readonly #entries: RecentMap<string, Entry<V>>
  readonly #now: () => number
  readonly #onDrop: ((value: V) => void) | undefined
  #rotatedAt: number

  constructor(options: RequestTableOptions<V> = {}) {
    const onDrop = options.onDrop
    this.#entries = new RecentMap(
      Math.floor((options.limit ?? DEFAULT_REQUEST_LIMIT) / 2),
      onDrop && ((entry) => onDrop(entry.value)),
    )
    this.#now = options.now ?? Date.now
    this.#onDrop = onDrop
    this.#rotatedAt = this.#now()
  }

  get size(): number {
    return this.#entries.size
  }

  /** Remembers `value` for request `id` while its requester waits `timeout` ms (plus the grace). */
  remember(id: string, value: V, timeout: number): void {
    const now = this.#now()
    if (now - this.#rotatedAt >= MAX_REQUEST_TTL) {
      this.#entries.rotate()
      this.#rotatedAt = now
    }
    const previous = this.#entries.get(id)
    if (previous !== undefined) this.#forget(id, previous)
    this.#entries.set(id, {
      value,
      expires: now + Math.min(timeout + REQUEST_GRACE, MAX_REQUEST_TTL),
    })
  }

  /** The value for `id`, or `undefined` when unknown or expired. */
  get(id: string): V | undefined {
    const entry = this.#entries.get(id)
    if (entry === undefined) return undefined
    if (entry.expires <= this.#now()) {
      this.#forget(id, entry)
      return undefined
    }
    return entry.value
  }

  /** The value for `id`, forgotten at once; `undefined` when unknown or expired. */
  take(id: string): V | undefined {
    const value = this.get(id)
    if (value !== undefined) this.#entries.delete(id)
    return value
  }

  /** Forgets every entry. */
  clear(): void {
    this.#entries.clear()
  }

  #forget(id: string, entry: Entry<V>): void {
    this.#entries.delete(id)
    this.#onDrop?.(entry.value)
  }
}
