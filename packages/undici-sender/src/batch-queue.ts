import { MAX_BATCH_BYTES, MAX_BATCH_MESSAGES } from '@exorelay/http-protocol'

/** What a batch queue needs from its owner: the relay's sender, or the bus for one receiver. */
export interface BatchQueueHost<M> {
  /** Requests to the peer under way: single messages and batches alike. */
  underWay(): number
  /** The message's entry in a batch body. */
  entry(message: M): string
  /** It gave up while it waited, or was handed on: the queue skips it. */
  settled(message: M): boolean
  /** It waited too long (`now` is `performance.now()`): the queue drops it and calls `expire`. */
  expired(message: M, now: number): boolean
  expire(message: M): void
  /** Sends it alone on the single route. */
  sendAlone(message: M): void
  /** Sends the messages as one batch; `body` is the JSON array of their entries. */
  sendBatch(messages: M[], body: string): void
}

/**
 * The messages waiting for a batch to one peer, and when they leave (decision 0011). While
 * fewer than `after` requests to the peer are under way, a message goes out at once and alone,
 * and nothing here runs. Beyond that (and behind messages waiting already, so that the peer
 * gets them in order), it waits; when one of the requests ends, what waits leaves as one
 * batch, within `MAX_BATCH_MESSAGES` and `MAX_BATCH_BYTES`. Nothing ever waits for a batch to
 * fill. A batch of one, and everything once the peer takes no batches, goes alone.
 */
export class BatchQueue<M> {
  /** Batches are on: the peer offered them and has not refused one since. */
  on: boolean
  readonly #host: BatchQueueHost<M>
  readonly #after: number
  // Oldest first. A message that gives up stays until the next batch skips it: removing it
  // at once would cost a search of the queue per timeout.
  #queue: M[] = []
  #waiting = 0

  constructor(host: BatchQueueHost<M>, after: number, on = false) {
    this.#host = host
    this.#after = after
    this.on = on
  }

  /** Messages waiting that have not given up. */
  get waiting(): number {
    return this.#waiting
  }

  /** Whether a new message waits for a batch instead of going out at once. */
  holds(): boolean {
    return this.on && (this.#waiting > 0 || this.#host.underWay() >= this.#after)
  }

  push(message: M): void {
    this.#queue.push(message)
    this.#waiting++
  }

  /** A waiting message gave up (deadline or signal) before it left. */
  left(): void {
    this.#waiting--
    // Nobody waits any more: drop the ones that gave up now, not when the next one waits,
    // which may be never (their payloads would stay referenced).
    if (this.#waiting === 0) this.#queue = []
  }

  /**
   * A request ended, or the owner wants the queue sent: drops what waited too long, then
   * sends what waits, as batches for as long as fewer than `after` requests are under way, or
   * with `all`, everything at once.
   */
  flush(all: boolean): void {
    this.#take(false, true)
    while (this.#waiting > 0 && (all || this.#host.underWay() < this.#after)) {
      const entries: string[] = []
      const messages = this.#take(this.on, false, entries)
      if (!this.on || messages.length === 1) {
        for (const message of messages) this.#host.sendAlone(message)
      } else if (messages.length > 0) {
        this.#host.sendBatch(messages, `[${entries.join(',')}]`)
      }
    }
  }

  /**
   * Takes from the front: skips the settled, drops the expired; then, unless `expiredOnly`,
   * the waiting messages that fit one batch (`batching`), or all of them.
   */
  #take(batching: boolean, expiredOnly: boolean, entries?: string[]): M[] {
    const host = this.#host
    const queue = this.#queue
    const taken: M[] = []
    // The brackets, then each entry and its comma.
    let bytes = 1
    let index = 0
    const now = performance.now()
    for (; index < queue.length; index++) {
      const message = queue[index] as M
      if (host.settled(message)) continue
      if (host.expired(message, now)) {
        this.#waiting--
        host.expire(message)
        continue
      }
      if (expiredOnly) break
      if (batching) {
        if (taken.length === MAX_BATCH_MESSAGES) break
        const entry = host.entry(message)
        bytes += Buffer.byteLength(entry) + 1
        // The first always goes: a message too large for any batch goes alone.
        if (bytes > MAX_BATCH_BYTES && taken.length > 0) break
        entries?.push(entry)
      }
      taken.push(message)
    }
    queue.splice(0, index)
    this.#waiting -= taken.length
    return taken
  }
}
