import { atCallSite, type CallSite } from './call-site.js'
import { ERROR_REPLY, remoteHandlerError } from './error-reply.js'
import { AbortError, ErrorCodes, type ExoRelayError, type TimeoutError } from './errors.js'
import type { ReceivedMessage } from './message-map.js'
import { RecentMap } from './recent-map.js'
import { type ReplySink, settleFailure, settleReply } from './sent-message.js'

/** The timer functions the deadlines use; injectable so tests control time without fakes. */
export interface Timers {
  /** Calls `callback` after `milliseconds`; returns a handle for `clearTimeout`. */
  setTimeout: (callback: () => void, milliseconds: number) => unknown
  /** Cancels what `setTimeout` scheduled. */
  clearTimeout: (handle: any) => void
}

const MAX_TIMER_DELAY = 2_147_483_647
// How many requests given up on (deadline, signal) are remembered, so that a reply that comes
// late is taken quietly: the last 4,096 to 8,192, a few hundred kilobytes at most.
const GIVEN_UP_REMEMBERED = 4_096

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
  /** Builds what the wait rejects with at the deadline (only then: most waits never time out). */
  timeoutError: () => TimeoutError
  /**
   * Where the send was called (the relay's `stackTraces`): whatever the wait rejects with, its
   * stack is this one, the caller's `send` line. Without it errors keep their own stacks.
   */
  callSite?: CallSite | undefined
  signal?: AbortSignal | undefined
  /**
   * Receives every reply, for callback-style sends that accept several outcomes. Without it
   * the first reply settles the wait. With it, the wait settles when `end(id)` is called, or
   * at the deadline: with `undefined` when at least one reply came, else with the timeout.
   */
  onReply?: ((reply: ReceivedMessage) => void) | undefined
  /**
   * Called when `signal` ends the wait, before any reply came: the sender tells the receiver
   * that nobody waits any more (a cancellation, issue 15).
   */
  onAbort?: (() => void) | undefined
}

/**
 * One wait: settled exactly once, by a reply, `end()`, its deadline, its signal or a
 * rejection, and on settling it clears its timer and abort listener and tells its sink (the
 * send's SentMessage). One Node timer per wait: Node keeps timers of equal duration in one
 * list, so this costs O(1), and no promise of its own (a per-send wrapper such as p-timeout
 * built two extra promises and an error per send).
 */
class Waiter {
  readonly onReply: ((reply: ReceivedMessage) => void) | undefined
  replies = 0
  readonly sink: ReplySink
  readonly #callSite: CallSite | undefined
  #timer: unknown
  #signal: AbortSignal | undefined
  #onAbort: (() => void) | undefined
  #settled = false

  constructor(
    readonly id: string,
    options: WaitOptions,
    sink: ReplySink,
    readonly table: Map<string, Waiter>,
    readonly timers: Timers,
    readonly givenUp: RecentMap<string, true>,
    readonly ended: ((id: string) => void) | undefined,
  ) {
    this.onReply = options.onReply
    this.sink = sink
    this.#callSite = options.callSite
    const { signal, timeout, timeoutError } = options
    if (signal !== undefined) {
      this.#signal = signal
      const aborted = options.onAbort
      this.#onAbort = () => {
        const waiting = !this.#settled && this.replies === 0
        if (!this.#settled) givenUp.set(id, true)
        this.reject(abortedError(sink.messageName, signal.reason))
        if (waiting) aborted?.()
      }
      signal.addEventListener('abort', this.#onAbort, { once: true })
    }
    if (timeout !== Number.POSITIVE_INFINITY) {
      this.#timer = timers.setTimeout(() => {
        givenUp.set(id, true)
        // A callback-style send that got at least one reply ends normally at its deadline.
        if (this.onReply !== undefined && this.replies > 0) this.resolve(undefined)
        else this.reject(timeoutError())
      }, timeout)
    }
  }

  resolve(reply: ReceivedMessage | undefined): void {
    if (this.#settle()) this.sink[settleReply](reply)
  }

  reject(error: unknown): void {
    if (this.#settle()) this.sink[settleFailure](atCallSite(error, this.#callSite))
  }

  /** Ends the wait without telling its sink. False when it had already ended. */
  release(): boolean {
    return this.#settle()
  }

  #settle(): boolean {
    if (this.#settled) return false
    this.#settled = true
    // Only remove the entry this wait created: ids are unique, but be exact anyway.
    if (this.table.get(this.id) === this) this.table.delete(this.id)
    if (this.#timer !== undefined) this.timers.clearTimeout(this.#timer)
    if (this.#onAbort !== undefined) this.#signal!.removeEventListener('abort', this.#onAbort)
    this.ended?.(this.id)
    return true
  }
}

/** What a send rejects with when the caller's signal aborts it. */
export function abortedError(name: string, reason: unknown): AbortError {
  return new AbortError(ErrorCodes.ABORTED, `The send of '${name}' was aborted by its signal.`, {
    cause: reason,
  })
}

/**
 * The table from the id of each sent message to whoever waits for its replies. Every entry
 * leaves the table exactly once: on its (last) reply, its deadline, its signal, or
 * `rejectAll()`. Nothing is settled twice: a flood of replies to one request finds the
 * waiter gone after the first.
 */
export class PendingReplies {
  readonly #waiters = new Map<string, Waiter>()
  readonly #timers: Timers
  readonly #givenUp = new RecentMap<string, true>(GIVEN_UP_REMEMBERED)
  /** Told the id of every wait that ends (a contract's reply checks forget it); set once, before any wait. */
  ended: ((id: string) => void) | undefined

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

  /** The name of the sent message whose replies wait under `id`; `undefined` when none waits. */
  messageNameOf(id: string): string | undefined {
    return this.#waiters.get(id)?.sink.messageName
  }

  /**
   * Starts waiting for replies to the message `id`; `sink` learns how the wait ended. Call
   * before the message is sent.
   */
  wait(id: string, options: WaitOptions, sink: ReplySink): void {
    if (options.signal?.aborted) {
      sink[settleFailure](
        atCallSite(abortedError(sink.messageName, options.signal.reason), options.callSite),
      )
      return
    }
    this.#waiters.set(
      id,
      new Waiter(id, options, sink, this.#waiters, this.#timers, this.#givenUp, this.ended),
    )
  }

  /**
   * Hands an incoming message to the waiter its `responseTo` names; an error reply rejects the
   * waiter with a `RemoteHandlerError`. Returns false when nobody waits for it, so that
   * dispatch can fall back to the handler registered for the name.
   */
  deliver(message: ReceivedMessage): boolean {
    if (message.responseTo === undefined) return false
    const waiter = this.#waiters.get(message.responseTo)
    if (waiter === undefined) return false
    if (message.name === ERROR_REPLY) {
      waiter.reject(remoteHandlerError(message, waiter.sink.messageName))
      return true
    }
    waiter.replies++
    if (waiter.onReply === undefined) waiter.resolve(message)
    else waiter.onReply(message)
    return true
  }

  /**
   * True when the sender stopped waiting for request `id` (its deadline passed or its signal
   * aborted) not long ago: a reply to it is late, not unknown.
   */
  gaveUpOn(id: string): boolean {
    return this.#givenUp.get(id) === true
  }

  /** Ends a callback-style wait before its deadline. False when it had already ended. */
  end(id: string): boolean {
    const waiter = this.#waiters.get(id)
    if (waiter === undefined) return false
    waiter.resolve(undefined)
    return true
  }

  /**
   * Ends a wait without settling it: its sink is left to the caller. False when the wait had
   * already ended (its deadline, signal or `rejectAll()` settled it).
   */
  release(id: string): boolean {
    return this.#waiters.get(id)?.release() === true
  }

  /** Rejects one wait, e.g. because its message could not be sent. */
  reject(id: string, error: unknown): void {
    this.#waiters.get(id)?.reject(error)
  }

  /** Rejects every wait with the error `errorFor` makes for its message's name (the relay is closing). */
  rejectAll(errorFor: (messageName: string) => ExoRelayError): void {
    for (const waiter of [...this.#waiters.values()])
      waiter.reject(errorFor(waiter.sink.messageName))
  }
}
