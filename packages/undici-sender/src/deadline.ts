import type { Timers } from '@exorelay/core'

// Node fires longer delays at once (with a TimeoutOverflowWarning), so they count as "no timer".
const MAX_TIMER_DELAY = 2 ** 31 - 1

// Ref'd on purpose: a request in flight is work the process should finish (or time out).
export const nodeTimers: Timers = {
  setTimeout: (callback, milliseconds) => setTimeout(callback, milliseconds),
  clearTimeout: (handle) => clearTimeout(handle),
}

/**
 * One request's deadline: a signal that aborts when `timeout` passes (with `expiredReason`)
 * or when the caller's signal aborts (with the caller's own reason, so the relay can recognise
 * it), whichever comes first. undici's headers/body timeouts start only once the request is
 * written, so time spent queued in the pool or connecting would otherwise not count.
 */
export class Deadline {
  /** What to pass to the request; `undefined` when nothing can abort it. */
  readonly signal: AbortSignal | undefined
  readonly #caller: AbortSignal | undefined
  readonly #controller: AbortController | undefined
  readonly #timers: Timers
  readonly #timer: unknown
  readonly #expiredReason: unknown

  constructor(
    timeout: number,
    caller: AbortSignal | undefined,
    expiredReason: unknown,
    timers: Timers = nodeTimers,
  ) {
    this.#caller = caller
    this.#expiredReason = expiredReason
    this.#timers = timers
    const timed = timeout <= MAX_TIMER_DELAY
    if (!timed) {
      // Nothing of our own to add: the caller's signal (if any) is all there is.
      this.signal = caller
      return
    }
    const controller = new AbortController()
    this.#controller = controller
    this.signal = controller.signal
    if (caller?.aborted) {
      controller.abort(caller.reason)
    } else {
      this.#timer = timers.setTimeout(() => controller.abort(expiredReason), timeout)
      caller?.addEventListener('abort', this.#onCallerAbort, { once: true })
    }
  }

  /** True when the time ran out before the caller aborted. */
  get expired(): boolean {
    return (
      this.#controller?.signal.aborted === true &&
      this.#controller.signal.reason === this.#expiredReason
    )
  }

  /** True when the caller's signal aborted first: the request must reject with its reason. */
  get abortedByCaller(): boolean {
    return this.#caller?.aborted === true && !this.expired
  }

  /** Stops the timer and forgets the caller's signal. Call once the request has settled. */
  dispose(): void {
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer)
    this.#caller?.removeEventListener('abort', this.#onCallerAbort)
  }

  readonly #onCallerAbort = (): void => {
    this.#controller?.abort(this.#caller?.reason)
  }
}
