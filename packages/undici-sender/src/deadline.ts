import type { Timers } from '@exorelay/core'

// Node fires longer delays at once (with a TimeoutOverflowWarning), so they count as "no timer".
const MAX_TIMER_DELAY = 2 ** 31 - 1

// undici's own headers/body timeouts (300 s). Finite deadlines pass the smaller of the two, so
// undici never waits past the send's deadline and never longer than it would by default.
export const UNDICI_DEFAULT_TIMEOUT = 300_000

// Ref'd on purpose: a request in flight is work the process should finish (or time out).
export const nodeTimers: Timers = {
  setTimeout: (callback, milliseconds) => setTimeout(callback, milliseconds),
  clearTimeout: (handle) => clearTimeout(handle),
}

/**
 * Whether a send's deadline gets a timer of its own. `Infinity`, and delays beyond what Node's
 * timers can hold (~24.8 days), have none: undici's own timeouts (and the caller's signal)
 * are all there is.
 */
export function hasDeadlineTimer(timeout: number): boolean {
  return timeout <= MAX_TIMER_DELAY
}

/**
 * The `headersTimeout` and `bodyTimeout` undici gets for a send with this deadline, or
 * `undefined` (undici's default) for an infinite one. Never longer than the deadline, so
 * undici's own timers cannot outlive the send, and never longer than the dispatcher's own
 * (undici's default unless told).
 */
export function undiciTimeout(
  timeout: number,
  dispatcherTimeout = UNDICI_DEFAULT_TIMEOUT,
): number | undefined {
  if (timeout === Number.POSITIVE_INFINITY) return undefined
  // undici treats 0 as "no timeout": round up so a sub-millisecond deadline stays one.
  return Math.min(Math.ceil(timeout), dispatcherTimeout)
}
