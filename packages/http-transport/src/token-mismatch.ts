import { ErrorCodes, type ExoRelayError, type Logger, TransportError } from '@exorelay/core'
import { textStart } from '@exorelay/core/internal'
import type { FastifyRequest } from 'fastify'

/** What {@link TokenMismatch} needs to know and whom it tells. */
export interface TokenMismatchOptions {
  readonly logger: Logger
  /** Whether the bus answered the relay's last answered request 401 (the sender's `unauthorized`). */
  readonly busRefuses: () => boolean
  /** Told of each mismatch once, after it was logged. */
  readonly report?: ((error: ExoRelayError) => void) | undefined
}

/**
 * A relay and its bus with different tokens (or one of them without a token). Everything
 * looks fine (the bus is reachable, the relay may be registered) while every request to the
 * service times out, so the mismatch is made loud, from whichever side notices it first:
 *
 * - the bus answers the relay's registration or send 401 (the sender's `onUnauthorized`):
 *   the relay's token is not the bus's, or the relay has none;
 * - the relay's listener refuses a request to `POST /run*` for its token (`onTokenCheck`):
 *   the bus delivers without the relay's token, or with another one.
 *
 * Each mismatch is logged at `error`, one sentence with the fix, and reported once, not once
 * per refused request. It ends when the bus takes the relay's token again and no delivery was
 * refused since the last one that carried it; a new mismatch after that is reported again.
 */
export class TokenMismatch {
  readonly #log: Logger
  readonly #busRefuses: () => boolean
  readonly #report: ((error: ExoRelayError) => void) | undefined
  #deliveriesRefused = false

  constructor(options: TokenMismatchOptions) {
    this.#log = options.logger
    this.#busRefuses = options.busRefuses
    this.#report = options.report
  }

  /** True while either side sees the mismatch: the relay's status says `unauthorized`. */
  get active(): boolean {
    return this.#deliveriesRefused || this.#busRefuses()
  }

  /** The sender's `onUnauthorized`: called once each time the bus starts refusing the token. */
  readonly busRefused = (error: TransportError): void => {
    // The listener noticed first: this mismatch was reported already.
    if (this.#deliveriesRefused) return
    this.#raise(error)
  }

  /** The listener's `onTokenCheck`: runs on every request, so it does as little as it can. */
  readonly tokenChecked = (accepted: boolean, request: FastifyRequest): void => {
    if (accepted) {
      this.#deliveriesRefused = false
      return
    }
    if (this.#deliveriesRefused) return
    this.#deliveriesRefused = true
    if (this.#busRefuses()) return
    const error = deliveryRefusedError(request)
    // Not inside the request's hook: what the report does must not touch the answer.
    queueMicrotask(() => this.#raise(error))
  }

  #raise(error: ExoRelayError): void {
    this.#log.error({ code: error.code }, error.message)
    this.#report?.(error)
  }
}

/** The listener refused a request for the token: if the bus sent it, the bus has another token. */
function deliveryRefusedError(request: FastifyRequest): TransportError {
  const why =
    request.headers.authorization === undefined
      ? `it came without the relay's token`
      : `it came with another token than the relay's`
  return new TransportError(
    ErrorCodes.UNAUTHORIZED,
    `This relay refused ${request.method} ${textStart(request.url)} from ${request.ip} with 401 because ${why}: if ExoCom sent it, start ExoCom and every relay with the same EXOCOM_TOKEN (the token option).`,
    { status: 401 },
  )
}
