/**
 * How much one generation may weigh: entries that arrive from the network may be large,
 * and a count alone would not bound their memory.
 */
export interface GenerationWeight<K, V> {
  /** The weight of a generation past which a new one starts. */
  readonly limit: number
  /** The weight of one entry, e.g. its strings' bytes. */
  readonly of: (key: K, value: V) => number
}

/**
 * A map that remembers its most recent entries, bounded in count (and, given a weight, in
 * weight), at a constant cost per operation. Entries go into the current generation; once it holds `generationSize` entries
 * it becomes the previous one and the one before is dropped whole. So the last
 * `generationSize` entries are always kept, older ones up to twice as many. One big `Map` that
 * deletes its oldest key on every insert would not do: V8 steps over every deleted slot to
 * find the next oldest, which made each insert cost tens of microseconds once full.
 *
 * @example
 * ```ts
 * const senders = new RecentMap<string, string>(100_000)
 * senders.set(messageId, 'web')
 * senders.get(messageId) // 'web', while it is among the last 100,000 to 200,000 entries
 * ```
 */
export class RecentMap<K, V> {
  readonly #generationSize: number
  readonly #onDrop: ((value: V) => void) | undefined
  readonly #weight: GenerationWeight<K, V> | undefined
  #current = new Map<K, V>()
  #previous = new Map<K, V>()
  #currentWeight = 0

  /**
   * `onDrop` sees every value dropped with a generation (not those removed by `delete`).
   * With `weight`, a generation also ends once its entries weigh more than `weight.limit`, so
   * the whole map weighs at most twice that (plus one entry).
   */
  constructor(
    generationSize: number,
    onDrop?: (value: V) => void,
    weight?: GenerationWeight<K, V>,
  ) {
    this.#generationSize = Math.max(1, generationSize)
    this.#onDrop = onDrop
    this.#weight = weight
  }

  get size(): number {
    return this.#current.size + this.#previous.size
  }

  /** The value of `key`, the current generation's if both have one. */
  get(key: K): V | undefined {
    return this.#current.get(key) ?? this.#previous.get(key)
  }

  /** Sets `key` in the current generation, first starting a new one when it is full. */
  set(key: K, value: V): void {
    if (this.#weight === undefined) {
      if (this.#current.size >= this.#generationSize) this.rotate()
      this.#current.set(key, value)
      return
    }
    const weight = this.#weight.of(key, value)
    if (
      this.#current.size >= this.#generationSize ||
      (this.#currentWeight + weight > this.#weight.limit && this.#current.size > 0)
    ) {
      this.rotate()
    }
    this.#current.set(key, value)
    this.#currentWeight += weight
  }

  /** Removes `key` from both generations; true when it was there. */
  delete(key: K): boolean {
    const inCurrent = this.#current.delete(key)
    return this.#previous.delete(key) || inCurrent
  }

  /** Starts a new generation now, dropping the previous one. */
  rotate(): void {
    this.#dropAll(this.#previous)
    this.#previous = this.#current
    this.#current = new Map()
    this.#currentWeight = 0
  }

  /** Drops every entry. */
  clear(): void {
    this.#dropAll(this.#previous)
    this.#dropAll(this.#current)
    this.#previous = new Map()
    this.#current = new Map()
    this.#currentWeight = 0
  }

  #dropAll(entries: Map<K, V>): void {
    if (this.#onDrop === undefined) return
    for (const value of entries.values()) this.#onDrop(value)
  }
}
