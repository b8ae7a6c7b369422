/** The most requests remembered at once; the oldest go first. */
export const DEFAULT_REQUEST_LIMIT = 100_000
/** The longest a request is remembered, also one whose requester waits for ever: 1 hour. */
export const MAX_REQUEST_TTL = 3_600_000
/**
 * How much longer than its requester waits a request is remembered: a reply just past the
 * deadline still reaches the requester, which drops it quietly, instead of being sent by name.
 */
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
  /** Called with each entry that is dropped unused: expired, over the limit, or cleared. */
  onDrop?: (value: V) => void
}

/**
 * What the transport remembers per request for as long as its requester waits: on the
 * receiving side, where replies to it go (a handler's `reply()` names only the id it answers,
 * and one request may get several replies); on the sending side, how to fail it should the
 * server say nobody receives it. An entry is valid for the request's timeout, counted from
 * now, plus a grace, at most an hour. The table is bounded in count, so that a flood of
 * requests cannot grow it without end: it keeps two generations of entries and drops the
 * older one whole when the newer is full (half the limit) or an hour old. Every operation
 * costs the same whatever the table holds; deleting the oldest key of one big `Map` on every
 * request does not (V8 steps over every deleted slot to find the next oldest).
 */
export class RequestTable<V> {
  readonly #generationSize: number
  readonly #now: () => number
  readonly #onDrop: ((value: V) => void) | undefined
  #current = new Map<string, Entry<V>>()
  #previous = new Map<string, Entry<V>>()
  #rotatedAt: number

  constructor(options: RequestTableOptions<V> = {}) {
    this.#generationSize = Math.max(1, Math.floor((options.limit ?? DEFAULT_REQUEST_LIMIT) / 2))
    this.#now = options.now ?? Date.now
    this.#onDrop = options.onDrop
    this.#rotatedAt = this.#now()
  }

  get size(): number {
    return this.#current.size + this.#previous.size
  }

  /** Remembers `value` for request `id` while its requester waits `timeout` ms (plus the grace). */
  remember(id: string, value: V, timeout: number): void {
    const now = this.#now()
    if (this.#current.size >= this.#generationSize || now - this.#rotatedAt >= MAX_REQUEST_TTL) {
      this.#rotate(now)
    }
    const previous = this.#current.get(id) ?? this.#previous.get(id)
    if (previous !== undefined) this.#forget(id, previous)
    this.#current.set(id, {
      value,
      expires: now + Math.min(timeout + REQUEST_GRACE, MAX_REQUEST_TTL),
    })
  }

  /** The value for `id`, or `undefined` when unknown or expired. */
  get(id: string): V | undefined {
    const entry = this.#current.get(id) ?? this.#previous.get(id)
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
    if (value !== undefined && !this.#current.delete(id)) this.#previous.delete(id)
    return value
  }

  /** Forgets every entry. */
  clear(): void {
    this.#dropAll(this.#previous)
    this.#dropAll(this.#current)
    this.#previous = new Map()
    this.#current = new Map()
  }

  #rotate(now: number): void {
    this.#dropAll(this.#previous)
    this.#previous = this.#current
    this.#current = new Map()
    this.#rotatedAt = now
  }

  #forget(id: string, entry: Entry<V>): void {
    if (!this.#current.delete(id)) this.#previous.delete(id)
    this.#onDrop?.(entry.value)
  }

  #dropAll(entries: Map<string, Entry<V>>): void {
    if (this.#onDrop === undefined) return
    for (const entry of entries.values()) this.#onDrop(entry.value)
  }
}
