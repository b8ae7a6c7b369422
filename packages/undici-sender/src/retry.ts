/** Milliseconds ExoCom may refuse connections before a send gives up, unless told otherwise. */
export const DEFAULT_RETRY_BUDGET = 1000
/** The wait before the first retry; each further retry waits twice as long. */
export const FIRST_RETRY_DELAY = 25
// However large the budget, a bus that comes back is noticed within a second.
const MAX_RETRY_DELAY = 1000
// Senders that failed together must not all come back in the same millisecond.
const JITTER = 0.2

/**
 * The wait before retry number `attempt` (1 for the first retry): 25 ms, doubling, at most
 * 1 s, jittered by ±20%.
 */
export function retryDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(FIRST_RETRY_DELAY * 2 ** (attempt - 1), MAX_RETRY_DELAY)
  return Math.round(base * (1 - JITTER + 2 * JITTER * random()))
}

/**
 * True only for failures that prove no byte of the request reached ExoCom: the connection was
 * refused, or could not be opened in time. Anything else (a reset after connect, a socket
 * closed mid-request, a timeout after the request was written) may have delivered the
 * message, so retrying it could deliver it twice.
 */
export function isNeverWritten(error: unknown): boolean {
  // Happy eyeballs (`localhost` as ::1 and 127.0.0.1) fails with one error per address.
  if (error instanceof AggregateError && error.errors.length > 0) {
    return error.errors.every(isNeverWritten)
  }
  return (error as { code?: unknown } | null)?.code === 'ECONNREFUSED' || isConnectTimeout(error)
}

/** undici could not open the connection in time: the peer is slow or gone, nothing was written. */
export function isConnectTimeout(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'UND_ERR_CONNECT_TIMEOUT'
}
