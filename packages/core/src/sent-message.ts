import { fromAwaitSite } from './call-site.js'
import { endSendTrace, type SendTrace } from './diagnostics.js'
import type { ReceivedMessage } from './message-map.js'

/**
 * How the relay settles a SentMessage. Symbol keys (not exported from the package) keep these
 * two off the public surface: code holding the Promise does not settle it by accident.
 */
export const settleReply: unique symbol = Symbol('exorelay.settleReply')
export const settleFailure: unique symbol = Symbol('exorelay.settleFailure')
/** The send's `exorelay:send` trace, when a tracer listens: settling the send ends it. */
export const sendTrace: unique symbol = Symbol('exorelay.sendTrace')
/** Told of the send's failure as it is settled (a handler's send timing out ends its handler's time). */
export const onFailure: unique symbol = Symbol('exorelay.onFailure')

/** Whoever learns how a send ended: a SentMessage (see `PendingReplies#wait`). */
export interface ReplySink {
  /** The name the message was sent with: errors name it. */
  readonly messageName: string
  /** The reply came (or, for a callback-style or one-way send, the send ended without one). */
  [settleReply](reply: ReceivedMessage | undefined): void
  [settleFailure](error: unknown): void
}

const PENDING = 0
const REPLIED = 1
const FAILED = 2

/**
 * What `relay.send()` returns: a real Promise of the reply's payload that is also safe to
 * ignore. A send that nobody awaits must never become an unhandled rejection, yet its failure
 * must not vanish either, so a failure that nobody observed is handed to `onUnobserved` (the
 * relay logs it). Awaiting later still rejects as usual.
 *
 * The relay settles it directly, once, from the reply table or the transport. With
 * `stackTraces: 'await'` (the default) it follows an async function's promise that the relay
 * settles instead, so that a failure gets the awaiting code's frames: two promises more per
 * send, no stack captured.
 *
 * @example
 * ```ts
 * const pending = relay.send('users.create', { name: 'Will' })   // waiting starts now
 * await doOtherWork()
 * const user = await pending                                       // a reply that came meanwhile is kept
 * const reply = await relay.send('users.create', data).envelope()  // { name: 'users.created', id, responseTo, payload }
 * ```
 */
export class SentMessage<Result = unknown, Reply = unknown>
  extends Promise<Result>
  implements ReplySink
{
  // Derived promises (`then`, `catch`, `finally`) are plain Promises, not SentMessages.
  static override get [Symbol.species](): PromiseConstructor {
    return Promise
  }

  /** The id of the sent message: the `responseTo` its replies carry. */
  readonly id: string
  /** The name the message was sent with. */
  readonly messageName: string
  #resolve!: (value: Result) => void
  #reject!: (reason: unknown) => void
  readonly #onUnobserved: (error: unknown, sent: SentMessage<Result, Reply>) => void
  #state: typeof PENDING | typeof REPLIED | typeof FAILED = PENDING
  /** The reply once replied, the error once failed. */
  #outcome: unknown
  /** The Promise `envelope()` handed out before the send settled, and how to settle it. */
  #envelope:
    | { promise: Promise<Reply>; resolve(reply: Reply): void; reject(error: unknown): void }
    | undefined
  #observed = false
  /**
   * Settled through fromAwaitSite (`stackTraces: 'await'`): its own rejection handler is added
   * only when it fails and nobody handles it.
   */
  #awaitSite = false
  /** Whether a handler was attached to this promise itself (`then`, `catch`, `await`). */
  #handled = false
  /** @internal Set only while a tracer listens, so that untraced sends keep their shape. */
  declare [sendTrace]?: SendTrace
  /**
   * @internal Set only for a handler's send that ends at its handler's deadline. A hook rather
   * than a handler on this promise: a second handler would stop V8 walking to the awaiting code.
   */
  declare [onFailure]?: (error: unknown) => void

  /**
   * @internal Built by the relay; not meant to be constructed by users. `onUnobserved` gets
   * the failure of a send that nobody awaited, caught or asked for its envelope.
   */
  constructor(
    id: string,
    messageName: string,
    onUnobserved: (error: unknown, sent: SentMessage<Result, Reply>) => void,
    awaitSite = false,
  ) {
    let resolve!: (value: Result | PromiseLike<Result>) => void
    let reject!: (reason: unknown) => void
    super((res, rej) => {
      resolve = res
      reject = rej
    })
    if (awaitSite) {
      // Settled through an async function that this one follows: V8 walks from it to whoever
      // awaits this promise, so a failure shows the awaiting line (see fromAwaitSite). V8
      // follows a promise only while it has one reaction: the handler of its own that keeps an
      // ignored send from rejecting unhandled is added only once it fails unobserved.
      const reply = new Promise<Result>((res, rej) => {
        this.#resolve = res
        this.#reject = rej
      })
      resolve(fromAwaitSite(reply))
      this.#awaitSite = true
    } else {
      this.#resolve = resolve
      this.#reject = reject
    }
    this.id = id
    this.messageName = messageName
    this.#onUnobserved = onUnobserved
    // A handler of its own, so ignoring a send never rejects unhandled; `#observed` says
    // whether anybody else looks.
    if (!this.#awaitSite) Promise.prototype.then.call(this, undefined, ignore)
  }

  /** @internal The reply (the payload is the result), or `undefined` for a send without one. */
  [settleReply](reply: ReceivedMessage | undefined): void {
    if (this.#state !== PENDING) return
    this.#state = REPLIED
    this.#outcome = reply
    this.#resolve((reply === undefined ? undefined : reply.payload) as Result)
    this.#envelope?.resolve(reply as Reply)
    if (this[sendTrace] !== undefined) endSendTrace(this[sendTrace], reply)
  }

  /** @internal */
  [settleFailure](error: unknown): void {
    if (this.#state !== PENDING) return
    this.#state = FAILED
    this.#outcome = error
    this.#reject(error)
    this.#envelope?.reject(error)
    if (this[sendTrace] !== undefined) endSendTrace(this[sendTrace], undefined, error)
    this[onFailure]?.(error)
    // It rejects a few microtasks from now, through fromAwaitSite. A caller's `await` may not
    // have reached it yet (a transport that rejected at once settles it before the await's
    // job runs), so the handler of its own waits one microtask, still before it rejects: added
    // first, it would be a second reaction, and V8 would not walk on to the awaiting code.
    if (this.#awaitSite) {
      queueMicrotask(() => {
        if (!this.#handled) Promise.prototype.then.call(this, undefined, ignore)
      })
    }
    if (this.#observed) return
    // A send that fails at once (closed relay, aborted signal) is awaited a few microtasks
    // after this runs: judge it unobserved only once the microtask queue has drained, as Node
    // judges an unhandled rejection.
    queueMicrotask(() => {
      if (this.#observed) return
      process.nextTick(() => {
        if (!this.#observed) this.#onUnobserved(error, this)
      })
    })
  }

  // biome-ignore lint/suspicious/noThenProperty: this is a Promise; overriding then is how it learns it was observed.
  override then<A = Result, B = never>(
    onFulfilled?: ((value: Result) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    this.#observed = true
    this.#handled = true
    return super.then(onFulfilled, onRejected)
  }

  /**
   * The whole reply: its outcome `name`, `id`, `responseTo`, `payload` (and `sender` when the
   * bus forwarded it), instead of the payload alone.
   */
  envelope(): Promise<Reply> {
    this.#observed = true
    if (this.#state === REPLIED) return Promise.resolve(this.#outcome as Reply)
    if (this.#state === FAILED) return Promise.reject(this.#outcome)
    if (this.#envelope === undefined) {
      let resolve!: (reply: Reply) => void
      let reject!: (error: unknown) => void
      const promise = new Promise<Reply>((res, rej) => {
        resolve = res
        reject = rej
      })
      this.#envelope = { promise, resolve, reject }
    }
    return this.#envelope.promise
  }

  override get [Symbol.toStringTag](): string {
    return 'SentMessage'
  }
}

function ignore(): void {}
