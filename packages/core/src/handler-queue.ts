import pTimeout from 'p-timeout'

/**
 * Bounds the handlers a relay runs at once. Beyond `concurrency`, started work waits in a
 * queue of at most `maxQueued`; beyond that the relay refuses at once (`OVERLOADED`; the HTTP
 * transports answer it with the status `statusOf` gives, see `@exorelay/http-protocol`)
 * rather than growing memory under a flood. `idle()` lets `close()` wait for what was
 * accepted.
 */
export class HandlerQueue {
  readonly #concurrency: number
  readonly #maxQueued: number
  readonly #waiting: (() => Promise<unknown> | undefined)[] = []
  readonly #idleWaiters = new Set<() => void>()
  #running = 0

  constructor(concurrency: number, maxQueued: number) {
    this.#concurrency = concurrency
    this.#maxQueued = maxQueued
  }

  get running(): number {
    return this.#running
  }

  get queued(): number {
    return this.#waiting.length
  }

  /** True when a handler may start now. */
  get hasCapacity(): boolean {
    return this.#running < this.#concurrency
  }

  /** Queues work for when a slot frees; false when the queue is full. */
  enqueue(start: () => Promise<unknown> | undefined): boolean {
    if (this.#waiting.length >= this.#maxQueued) return false
    this.#waiting.push(start)
    return true
  }

  /** Counts started work as running until its promise settles (`undefined`: it already ended). */
  track(running: Promise<unknown> | undefined): void {
    if (running === undefined) return
    this.#running++
    running.finally(() => {
      this.#running--
      this.#drain()
    })
  }

  /** Resolves true once nothing runs or waits, or false when `timeout` ms passed first. */
  idle(timeout: number): Promise<boolean> {
    if (this.#isIdle()) return Promise.resolve(true)
    let done!: () => void
    const idle = new Promise<boolean>((resolve) => {
      done = () => resolve(true)
      this.#idleWaiters.add(done)
    })
    return pTimeout(idle, {
      milliseconds: timeout,
      fallback: () => {
        this.#idleWaiters.delete(done)
        return false
      },
    })
  }

  #drain(): void {
    while (this.#running < this.#concurrency && this.#waiting.length > 0) {
      this.track(this.#waiting.shift()!())
    }
    if (this.#isIdle()) {
      for (const done of this.#idleWaiters) done()
      this.#idleWaiters.clear()
    }
  }

  #isIdle(): boolean {
    return this.#running === 0 && this.#waiting.length === 0
  }
}
