import pTimeout from 'p-timeout'
import { AbortError, ErrorCodes, type ExoRelayError, type TimeoutError } from './errors.js'
import type { ReceivedMessage } from './message-map.js'

/** The timer functions the deadlines use; injectable so tests control time without fakes. */
export interface Timers {
  setTimeout: (callback: () => void, milliseconds: number) => unknown
  clearTimeout: (handle: any) => void
}

const MAX_TIMER_DELAY = 2_147_483_647

/**
 * Deadlines must never keep a process alive: a fire-and-forget send at the end of a script
 * would otherwise hold the event loop open until its timeout.
 */
export const unrefTimers: Timers = {
  setTimeout(callback, milliseconds) {
    // Node fires a delay above 2^31 - 1 ms after 1 ms instead (TimeoutOverflowWarning), so a
    // long deadline would expire at once; ~24.8 days is as good as for ever for a reply.
    return setTimeout(callback, Math.min(milliseconds, MAX_TIMER_DELAY)).unref()
  },
  clearTimeout(handle) {
    clearTimeout(handle)
  },
}

export interface WaitOptions {
  /** Milliseconds until the wait gives up; `Infinity` waits for ever. */
  timeout: number
  /** Rejected with at the deadline. Built by the caller, so its stack points at the caller's line. */
  timeoutError: TimeoutError
  signal?: AbortSignal | undefined
  /**
   * Receives every reply, for callback-style sends that accept several outcomes. Without it
   * the first reply settles the wait. With it, the wait settles when `end(id)` is called, or
   * at the deadline: with `undefined` when at least one reply came, else with the timeout.
   */
  onReply?: ((reply: ReceivedMessage) => void) | undefined
}

interface Waiter {
  resolve(reply: ReceivedMessage | undefined): void
  reject(error: unknown): void
  onReply: ((reply: ReceivedMessage) => void) | undefined
  replies: number
}

/**
 * The table from the id of each sent message to whoever waits for its replies. Every entry
 * leaves the table exactly once: on its (last) reply, its deadline, its signal, or
 * `rejectAll()`. Nothing is settled twice: a waiter is removed before it is settled, so a
 * flood of replies to one request finds it gone after the first.
 */
export class PendingReplies {
  readonly #waiters = new Map<string, Waiter>()
  readonly #timers: Timers

  constructor(options: { timers?: Timers | undefined } = {}) {
    this.#timers = options.timers ?? unrefTimers
  }

  /** How many sends are waiting for replies. */
  get size(): number {
    return this.#waiters.size
  }

  has(id: string): boolean {
    return this.#waiters.has(id)
  }

  /** Starts waiting for replies to the message `id`. Call before the message is sent. */
  wait(id: string, options: WaitOptions): Promise<ReceivedMessage | undefined> {
    let waiter!: Waiter
    const replied = new Promise<ReceivedMessage | undefined>((resolve, reject) => {
      waiter = { resolve, reject, onReply: options.onReply, replies: 0 }
    })
    this.#waiters.set(id, waiter)
    const { signal, timeoutError } = options
    const settled = pTimeout<ReceivedMessage | undefined>(replied, {
      milliseconds: options.timeout,
      ...(signal && { signal }),
      customTimers: this.#timers as NonNullable<Parameters<typeof pTimeout>[1]['customTimers']>,
      message: timeoutError,
      // A callback-style send that got at least one reply ends normally at its deadline.
      ...(options.onReply && {
        fallback: () => {
          if (waiter.replies > 0) return undefined
          throw timeoutError
        },
      }),
    })
    return settled.then(
      (reply) => {
        this.#remove(id, waiter)
        return reply
      },
      (error: unknown) => {
        this.#remove(id, waiter)
        if (signal?.aborted && error === signal.reason) {
          throw new AbortError(ErrorCodes.ABORTED, 'The send was aborted by its signal.', {
            cause: signal.reason,
          })
        }
        throw error
      },
    )
  }

  /**
   * Hands an incoming message to the waiter its `responseTo` names. Returns false when nobody
   * waits for it, so that dispatch can fall back to the handler registered for the name.
   */
  deliver(message: ReceivedMessage): boolean {
    if (message.responseTo === undefined) return false
    const waiter = this.#waiters.get(message.responseTo)
    if (waiter === undefined) return false
    waiter.replies++
    if (waiter.onReply === undefined) {
      this.#waiters.delete(message.responseTo)
      waiter.resolve(message)
    } else {
      waiter.onReply(message)
    }
    return true
  }

  /** Ends a callback-style wait before its deadline. False when it had already ended. */
  end(id: string): boolean {
    const waiter = this.#waiters.get(id)
    if (waiter === undefined) return false
    this.#waiters.delete(id)
    waiter.resolve(undefined)
    return true
  }

  /** Rejects one wait, e.g. because its message could not be sent. */
  reject(id: string, error: unknown): void {
    const waiter = this.#waiters.get(id)
    if (waiter === undefined) return
    this.#waiters.delete(id)
    waiter.reject(error)
  }

  /** Rejects every wait with `error` (the relay is closing). */
  rejectAll(error: ExoRelayError): void {
    const waiters = [...this.#waiters.values()]
    this.#waiters.clear()
    for (const waiter of waiters) waiter.reject(error)
  }

  #remove(id: string, waiter: Waiter): void {
    // Only remove the entry this wait created: ids are unique, but be exact anyway.
    if (this.#waiters.get(id) === waiter) this.#waiters.delete(id)
  }
}
