import { ErrorCodes, type ExoRelayError, type Logger, TransportError } from '@exorelay/core'
import { textStart } from '@exorelay/core/internal'
import type { FastifyRequest } from 'fastify'

/** What {@link TokenMismatch} needs to know and whom it tells. */
export interface TokenMismatchOptions {
  readonly logger: Logger
  /** Whether the bus answered the relay's last answered request 401 (the sender's `unauthorized`). */
  readonly busRefuses: () => boolean
  /**
   * Asks the bus whether it takes requests without a token (the sender's `acceptsNoToken`):
   * only then can a request the listener refused have come from the bus.
   */
  readonly busAcceptsNoToken: () => Promise<boolean>
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
 * - the relay's listener refuses a request to `POST /run*` for its token (`onTokenCheck`),
 *   and the bus, asked, takes requests without a token: it delivers without the relay's.
 *   Any local process can send a request without the token, so a refusal alone proves
 *   nothing: when the bus checks tokens, the refused request was not the bus's, and it is
 *   logged at `warn` only (the listener's own line), never reported.
 *
 * Each mismatch is logged at `error`, one sentence with the fix, and reported once, not once
 * per refused request. It ends when the bus takes the relay's token again and no delivery was
 * refused since the last one that carried it; a new mismatch after that is reported again.
 */
export class TokenMismatch {
  readonly #log: Logger
  readonly #busRefuses: () => boolean
  readonly #report: ((error: ExoRelayError) => void) | undefined
  readonly #busAcceptsNoToken: () => Promise<boolean>
  #deliveriesRefused = false
  // One question to the bus at a time, and none again for a while after it said it checks
  // tokens: a client hammering the listener without the token costs the bus nothing.
  #asking = false
  #askedAt = Number.NEGATIVE_INFINITY

  constructor(options: TokenMismatchOptions) {
    this.#log = options.logger
    this.#busRefuses = options.busRefuses
    this.#busAcceptsNoToken = options.busAcceptsNoToken
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
    if (this.#deliveriesRefused || this.#asking || this.#busRefuses()) return
    if (performance.now() - this.#askedAt < ASK_AGAIN_AFTER) return
    this.#asking = true
    const error = deliveryRefusedError(request)
    // Not inside the request's hook: what the report does must not touch the answer.
    this.#busAcceptsNoToken().then(
      (acceptsNoToken) => {
        this.#asking = false
        this.#askedAt = performance.now()
        if (!acceptsNoToken || this.#deliveriesRefused || this.#busRefuses()) return
        this.#deliveriesRefused = true
        this.#raise(error)
      },
      () => {
        // The bus did not answer: nothing is known, and the next refusal asks again.
        this.#asking = false
      },
    )
  }

  #raise(error: ExoRelayError): void {
    this.#log.error({ code: error.code }, error.message)
    this.#report?.(error)
  }
}

/** After the bus said it checks tokens, refusals are not questioned again for this long. */
const ASK_AGAIN_AFTER = 10_000

/** The listener refused a request for the token, and the bus takes requests without one. */
function deliveryRefusedError(request: FastifyRequest): TransportError {
  return new TransportError(
    ErrorCodes.UNAUTHORIZED,
    `This relay refused ${request.method} ${textStart(request.url)} from ${request.ip} with 401 because it came without the relay's token, and ExoCom takes requests without a token: ExoCom delivers without it. Start ExoCom with a token (EXOCOM_TOKEN, or per-service credentials with --credentials) and give every relay the token ExoCom expects of it.`,
    { status: 401 },
  )
}
