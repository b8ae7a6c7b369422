/**
 * What `relay.send()` returns: a real Promise of the reply's payload that is also safe to
 * ignore. A send that nobody awaits must never become an unhandled rejection, yet its failure
 * must not vanish either, so a failure that nobody observed is handed to `onUnobserved` (the
 * relay logs it). Awaiting later still rejects as usual.
 *
 * @example
 * ```ts
 * const pending = relay.send('users.create', { name: 'Will' })   // waiting starts now
 * await doOtherWork()
 * const user = await pending                                       // a reply that came meanwhile is kept
 * const reply = await relay.send('users.create', data).envelope()  // { name: 'users.created', id, responseTo, payload }
 * ```
 */
export class SentMessage<Result = unknown, Reply = unknown> extends Promise<Result> {
  // Derived promises (`then`, `catch`, `finally`) are plain Promises, not SentMessages.
  static override get [Symbol.species](): PromiseConstructor {
    return Promise
  }

  /** The id of the sent message: the `responseTo` its replies carry. */
  readonly id: string
  /** The name the message was sent with. */
  readonly messageName: string
  readonly #reply: Promise<Reply>
  #observed = false

  /** @internal Built by the relay; not meant to be constructed by users. */
  constructor(
    id: string,
    messageName: string,
    reply: Promise<Reply>,
    toResult: (reply: Reply) => Result,
    onUnobserved: (error: unknown) => void,
  ) {
    let resolve!: (value: Result) => void
    let reject!: (reason: unknown) => void
    super((res, rej) => {
      resolve = res
      reject = rej
    })
    this.id = id
    this.messageName = messageName
    this.#reply = reply
    reply.then(
      (value) => resolve(toResult(value)),
      (error: unknown) => {
        reject(error)
        // A send that fails at once (closed relay, aborted signal) is awaited a few microtasks
        // after this runs: judge it unobserved only once the microtask queue has drained, as
        // Node judges an unhandled rejection.
        if (!this.#observed) {
          process.nextTick(() => {
            if (!this.#observed) onUnobserved(error)
          })
        }
      },
    )
    // `reply` is handled just above; this promise gets a handler too, so ignoring a send never
    // rejects unhandled.
    Promise.prototype.then.call(this, undefined, ignore)
  }

  // biome-ignore lint/suspicious/noThenProperty: this is a Promise; overriding then is how it learns it was observed.
  override then<A = Result, B = never>(
    onFulfilled?: ((value: Result) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    this.#observed = true
    return super.then(onFulfilled, onRejected)
  }

  /**
   * The whole reply: its outcome `name`, `id`, `responseTo`, `payload` (and `sender` when the
   * bus forwarded it), instead of the payload alone.
   */
  envelope(): Promise<Reply> {
    this.#observed = true
    return this.#reply
  }

  override get [Symbol.toStringTag](): string {
    return 'SentMessage'
  }
}

function ignore(): void {}
