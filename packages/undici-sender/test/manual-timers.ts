import type { Timers } from '@exorelay/core'

/** Timers a test fires by hand: {@link ManualTimers.fire}. */
export interface ManualTimers extends Timers {
  /**
   * Runs the pending timers, or only those set for exactly `delay` ms: a deadline passes when
   * the test says so, never because a loaded machine was slow. A request's own deadline counts
   * from its start, a fraction of a millisecond less than its messages': `fire(60_000)` runs
   * the messages' timers, not the request's.
   */
  fire(delay?: number): void
  /** How many are set and not yet fired or cleared. */
  pending(): number
  /** The delay of each timer set, in order. */
  readonly delays: number[]
}

/** Timers the test fires by hand: no waiting, no global fakes. */
export function manualTimers(): ManualTimers {
  // A timer's handle is its number in `delays`, from 1: its delay is `delays[handle - 1]`.
  const callbacks = new Map<number, () => void>()
  const delays: number[] = []
  return {
    delays,
    pending: () => callbacks.size,
    setTimeout(callback, milliseconds) {
      delays.push(milliseconds)
      callbacks.set(delays.length, callback)
      return delays.length
    },
    clearTimeout(handle: number) {
      callbacks.delete(handle)
    },
    fire(delay) {
      for (const [handle, callback] of callbacks) {
        if (delay !== undefined && delays[handle - 1] !== delay) continue
        callbacks.delete(handle)
        callback()
      }
    },
  }
}
