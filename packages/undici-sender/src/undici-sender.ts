import {
  assertMessageName,
  ClosedError,
  checkPort,
  ErrorCodes,
  InvalidArgumentError,
  type Logger,
  MAX_INSTANCE_LENGTH,
  type OutgoingEnvelope,
  silentLogger,
  type Timers,
  type TransportError,
  type TransportSendOptions,
} from '@exorelay/core'
import {
  CANCEL,
  checkBoolean,
  checkFunction,
  checkInteger,
  checkNonEmptyString,
  checkTimeout,
  describeValue,
  invalidOption,
  isInstanceId,
  missingOption,
} from '@exorelay/core/internal'
import {
  checkToken,
  DEFAULT_BATCH_AFTER,
  lacksSelfRegistration,
  offersBatches,
  requestHeaders,
  type ServiceRegistration,
  sendPath,
  servicePath,
  statusOf,
  withdrawalPath,
} from '@exorelay/http-protocol'
import type { Dispatcher, Pool } from 'undici'
import { Batcher } from './batch.js'
import { BODY_READ_LIMIT, describeCause, refusal, unauthorizedError } from './bus-errors.js'
import { nodeTimers } from './deadline.js'
import {
  type Abandonable,
  type Answer,
  type ExchangeContext,
  SendExchange,
  type SendRequest,
} from './exchange.js'
import { isSuccess, messageOutcome, messageSubject } from './outcome.js'
import { createPool } from './pool.js'
import { DEFAULT_RETRY_BUDGET } from './retry.js'

/** Options of {@link UndiciSender}. */
export interface UndiciSenderOptions {
  /**
   * Host name or IP address of ExoCom.
   * @default `'localhost'`
   */
  exocomHost?: string | undefined
  /** ExoCom's HTTP port. Required. */
  exocomPort: number
  /**
   * An undici Dispatcher to use instead of the sender's own Pool (tests, proxies, mocks).
   * Requests carry the full origin, so an `Agent` or `MockAgent` works. Not closed by `close()`.
   * @default its own keep-alive undici `Pool`
   */
  dispatcher?: Dispatcher | undefined
  /**
   * Keep-alive connections in the pool. Ignored when `dispatcher` is given.
   * @default `16`
   */
  connections?: number | undefined
  /**
   * A pino-compatible logger.
   * @default silent
   */
  logger?: Logger | undefined
  /**
   * The shared secret of the ExoCom installation. When set, every request (send, register,
   * deregister) carries `authorization: Bearer <token>`. Visible ASCII, no spaces. It never
   * appears in a log line or an error message.
   * @default none
   */
  token?: string | undefined
  /**
   * Milliseconds during which a request whose connection was refused (nothing was written)
   * is retried, with a backoff of 25 ms doubling (±20%), and never past the send's `timeout`.
   * A request that may have reached ExoCom is never retried. `0` disables retries.
   * @default `1_000`
   */
  retryBudget?: number | undefined
  /**
   * The `setTimeout`/`clearTimeout` pair behind the deadlines and the retry backoff, for
   * tests that drive time by hand.
   * @default Node's timers
   */
  timers?: Timers | undefined
  /**
   * The batch extension (decision 0011): once ExoCom offered batches in its answer to
   * `register()` and `batchAfter` requests are under way, further messages wait and leave
   * together as one `POST /send` when one of those requests ends. `false`: never.
   * @default `true`
   */
  batches?: boolean | undefined
  /**
   * Requests to ExoCom under way before messages wait for a batch.
   * @default `2`
   */
  batchAfter?: number | undefined
  /**
   * Told when ExoCom refuses this sender's token (answers 401) after it last took it, or
   * before it answered anything: once per mismatch, not once per request. The error is a
   * `TransportError` coded `EXORELAY_ERR_AUTH_UNAUTHORIZED` (`status: 401`) whose message
   * names the fix; the requests themselves still reject with `BUS_REFUSED`. Called in a
   * microtask, never while a request is being handled.
   * @default none
   */
  onUnauthorized?: ((error: TransportError) => void) | undefined
  /**
   * This instance's id (decision 0017), e.g. random per relay: sent as `instance` with every
   * message that waits for a reply, so that when several instances of the service run, the
   * bus sends replies to the one that asked; and named when it withdraws
   * (`DELETE /services/<name>?instance=<id>`), so that it withdraws alone. 1 to 128 visible
   * ASCII characters.
   * @default none
   */
  instance?: string | undefined
}

/** Keep-alive connections per sender unless told otherwise. */
export const DEFAULT_CONNECTIONS = 16

const UNAUTHORIZED_STATUS = statusOf(ErrorCodes.UNAUTHORIZED)

/** Headers of requests with and without a body. */
interface RequestHeaders {
  readonly json: Record<string, string>
  readonly accept: Record<string, string>
}

/** A path no ExoCom serves: the token probe learns only whether the bus checks tokens. */
const TOKEN_PROBE_PATH = '/exorelay/token-probe'
const NO_TOKEN_HEADERS: Readonly<Record<string, string>> = Object.freeze(
  requestHeaders(undefined, false),
)

/**
 * The sending side of ExoRelay over HTTP: delivers each outgoing message to ExoCom as
 * `POST /send/<name>` over a keep-alive undici `Pool` of its own. It never touches undici's
 * global dispatcher. It retries only a request whose connection was refused, within
 * `retryBudget`: a request that may have reached ExoCom is not sent again (at-most-once).
 *
 * @example
 * ```ts
 * import { createEnvelope } from '@exorelay/core'
 * import { UndiciSender } from '@exorelay/undici-sender'
 *
 * const sender = new UndiciSender({ exocomHost: 'exocom', exocomPort: 3100 })
 * await sender.send(createEnvelope('users.create', 'web', { name: 'Will' }), { timeout: 2000 })
 * await sender.close()
 * ```
 */
export class UndiciSender {
  /** Where ExoCom is, e.g. `'http://localhost:3100'`. */
  readonly origin: string
  /** Our own pool; `undefined` when the caller's dispatcher is used (and not ours to close). */
  readonly #pool: Pool | undefined
  readonly #log: Logger
  readonly #headers: RequestHeaders
  readonly #instance: string | undefined
  readonly #context: ExchangeContext
  readonly #batcher: Batcher
  // Exchanges waiting to retry a refused connection, so that close() does not wait out their
  // backoff. Only refusals put anything here.
  readonly #retrying = new Set<Abandonable>()
  // Exchanges not yet settled, and who waits for that count to reach zero.
  #active = 0
  #idle: (() => void) | undefined
  #closed = false
  #closing: Promise<void> | undefined
  #reachable: boolean | undefined
  #unauthorized = false

  constructor(options: UndiciSenderOptions) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError(
        ErrorCodes.MISSING_OPTION,
        `The sender needs options with an exocomPort, got ${describeValue(options)}.`,
      )
    }
    const host = checkNonEmptyString(options.exocomHost, 'exocomHost', 'localhost')
    const port = checkExocomPort(options.exocomPort)
    this.origin = `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`
    this.#log = options.logger ?? silentLogger
    const token = checkToken(options.token, 'The token option')
    const onUnauthorized =
      options.onUnauthorized === undefined
        ? undefined
        : checkFunction<(error: TransportError) => void>(options.onUnauthorized, 'onUnauthorized')
    this.#headers = { json: requestHeaders(token), accept: requestHeaders(token, false) }
    if (options.instance !== undefined && !isInstanceId(options.instance)) {
      throw invalidOption(
        'instance',
        `an id of 1 to ${MAX_INSTANCE_LENGTH} visible ASCII characters without spaces`,
        options.instance,
      )
    }
    this.#instance = options.instance
    const retryBudget = checkRetryBudget(options.retryBudget)
    const timers = checkTimers(options.timers)
    const batches = checkBoolean(options.batches, 'batches', true)
    const batchAfter = checkInteger(options.batchAfter, 'batchAfter', 1, DEFAULT_BATCH_AFTER)
    let dispatcher: Dispatcher
    if (options.dispatcher !== undefined) {
      if (typeof (options.dispatcher as { dispatch?: unknown } | null)?.dispatch !== 'function') {
        throw invalidOption('dispatcher', 'an undici Dispatcher', options.dispatcher)
      }
      dispatcher = options.dispatcher
    } else {
      const connections = checkInteger(options.connections, 'connections', 1, DEFAULT_CONNECTIONS)
      this.#pool = createPool(this.origin, { connections })
      dispatcher = this.#pool
    }
    this.#context = {
      origin: this.origin,
      dispatcher,
      timers,
      retryBudget,
      log: this.#log,
      closing: () => this.#closed,
      reached: (reachable, status) => {
        this.#reachable = reachable
        // Only a final answer tells whether ExoCom took the token; a lost connection does not.
        if (status === undefined || status < 200) return
        const refused = status === UNAUTHORIZED_STATUS
        if (refused === this.#unauthorized) return
        this.#unauthorized = refused
        if (refused && onUnauthorized !== undefined) {
          // Outside undici's response handling: whatever the callback does, the request goes on.
          const error = unauthorizedError(this.origin, token !== undefined)
          queueMicrotask(() => onUnauthorized(error))
        }
      },
      retrying: (exchange, waiting) => {
        if (waiting) this.#retrying.add(exchange)
        else this.#retrying.delete(exchange)
      },
      settled: () => {
        this.#active--
        // A request ended: what waits for a batch may go now. Before the idle check, so that
        // close() waits for those too.
        if (this.#batcher.waiting > 0) this.#batcher.flush()
        if (this.#active === 0 && this.#idle !== undefined) this.#idle()
      },
    }
    this.#batcher = new Batcher(
      {
        context: this.#context,
        headers: this.#headers.json,
        log: this.#log,
        underWay: () => this.#active,
        start: (request, timeout, interpret) => {
          this.#active++
          return new SendExchange(this.#context, request, timeout, undefined, interpret)
        },
        sendAlone: (message) => {
          const { envelope, body, timeout, signal, started } = message
          message.transfer(() => this.#deliver(envelope, body, timeout, signal, started))
        },
      },
      batches,
      batchAfter,
    )
  }

  /**
   * Whether ExoCom was reachable at the last request: `undefined` before any request, `true`
   * once ExoCom answered anything (any status, 401 included), `false` after a request failed
   * with `BUS_UNREACHABLE`. Cheap to read, e.g. for a readiness probe.
   */
  get reachable(): boolean | undefined {
    return this.#reachable
  }

  /**
   * Whether ExoCom answered the last answered request 401 (`missing or invalid token`): its
   * token is not this sender's. `false` before any answer and once ExoCom answers anything
   * else; a request that got no answer changes nothing. Cheap to read.
   */
  get unauthorized(): boolean {
    return this.#unauthorized
  }

  /**
   * Delivers one message: `POST /send/<url-encoded name>` with the envelope's body (`sender`,
   * `id`, `payload` when present, `responseTo` when answering). Resolves when ExoCom answered
   * 2xx. Rejects with a `TransportError` coded `NO_RECEIVER` (404, or the bus said so in the
   * `exorelay-error-code` header), `BUS_REFUSED` (any other non-2xx) or `BUS_UNREACHABLE`
   * (connection failures; refused connections only once `retryBudget` is spent); with a
   * `TimeoutError` when `timeout` passes; with exactly `signal.reason` when the signal aborts;
   * with a `ClosedError` after `close()`. A message that travels in a batch settles the same
   * way, by its own result in the batch's answer.
   *
   * @example
   * ```ts
   * const controller = new AbortController()
   * await sender.send(
   *   { name: 'users.create', id: createMessageId(), sender: 'web', payload: { name: 'Will' } },
   *   { timeout: 2000, signal: controller.signal },
   * )
   * ```
   */
  send(envelope: OutgoingEnvelope, options: TransportSendOptions): Promise<void> {
    const name = envelope?.name
    try {
      assertMessageName(name, 'UndiciSender#send')
    } catch (error) {
      return Promise.reject(error)
    }
    let body: string
    try {
      // A request names its instance (the bus sends its replies there), and so does its
      // cancellation (only the instance that asked may cancel); nothing else needs it.
      const named = options?.awaitsReply === true || name === CANCEL
      body = JSON.stringify(wireBody(envelope, named ? this.#instance : undefined))
    } catch (error) {
      return Promise.reject(
        new InvalidArgumentError(
          ErrorCodes.INVALID_PAYLOAD,
          `The payload of the message '${name}' cannot travel as JSON: ${describeCause(error)}.`,
          { cause: error },
        ),
      )
    }
    if (this.#closed) return rejectClosed(messageSubject(name))
    const refused = refuseOptions(options)
    if (refused !== undefined) return refused
    const { timeout, signal } = options
    if (this.#batcher.holds()) {
      const waiting = this.#batcher.wait(envelope, body, timeout, signal)
      if (waiting !== undefined) return waiting
    }
    return this.#deliver(envelope, body, timeout, signal)
  }

  /**
   * Self-registration extension: `PUT /services/<name>` with the registration as JSON body.
   * Resolves `'registered'` on 2xx and `'unsupported'` on 404 or 405 (a bus without the
   * extension, e.g. the original ExoCom); rejects like `send()` otherwise. A 2xx whose body is
   * `{"batches": true}` lets this sender batch (unless `batches: false`); another 2xx body, a
   * 404 or a 405 stops it from batching.
   *
   * @example
   * ```ts
   * const result = await sender.register(
   *   { name: 'users', host: 'users', port: 4000, receives: ['users.create'] },
   *   { timeout: 2000 },
   * )
   * if (result === 'unsupported') log.info({}, 'ExoCom has no self-registration: configure its routes')
   * ```
   */
  register(
    service: ServiceRegistration,
    options: TransportSendOptions,
  ): Promise<'registered' | 'unsupported'> {
    let name: string
    let body: string
    try {
      name = checkServiceName(service, 'UndiciSender#register')
      body = stringifyRegistration(service, name)
    } catch (error) {
      return Promise.reject(error)
    }
    const subject = `the registration of the service '${name}'`
    const request: SendRequest = {
      method: 'PUT',
      path: servicePath(name),
      body,
      headers: this.#headers.json,
      subject: () => subject,
      // The answer's body offers batches, or not: read it only if this sender may batch.
      answerLimit: this.#batcher.allowed ? BODY_READ_LIMIT : undefined,
    }
    return this.#exchange(request, options, (answer) => {
      // Every answer says what the bus takes now: it may have been replaced by another.
      if (isSuccess(answer.status)) {
        this.#batcher.learn(offersBatches(answer.body))
        return 'registered'
      }
      if (lacksSelfRegistration(answer.status)) {
        this.#batcher.learn(false)
        return 'unsupported'
      }
      throw refusal(subject, answer.status, answer.errorCode, answer.bodyStart)
    })
  }

  /**
   * `DELETE /services/<name>`: withdraws a self-registration. Resolves on 2xx and on 404/405
   * (nothing to withdraw, or a bus without the extension); rejects like `send()` otherwise.
   */
  deregister(name: string, options: TransportSendOptions): Promise<void> {
    let serviceName: string
    try {
      serviceName = checkServiceName({ name }, 'UndiciSender#deregister')
    } catch (error) {
      return Promise.reject(error)
    }
    const subject = `the deregistration of the service '${serviceName}'`
    const request: SendRequest = {
      method: 'DELETE',
      path: withdrawalPath(serviceName, this.#instance),
      body: undefined,
      headers: this.#headers.accept,
      subject: () => subject,
    }
    return this.#exchange(request, options, (answer) => {
      if (isSuccess(answer.status) || lacksSelfRegistration(answer.status)) return
      throw refusal(subject, answer.status, answer.errorCode, answer.bodyStart)
    })
  }

  /**
   * Whether the bus takes requests without a token: one `GET` of a path no bus serves, sent
   * without `authorization`. A bus with a token answers 401 before it looks for a route; one
   * without answers 404. Tells a relay with a token whether a request its listener refused
   * for the token can have come from the bus. Rejects when no answer comes within `timeout`
   * milliseconds.
   */
  acceptsNoToken(timeout: number): Promise<boolean> {
    const request: SendRequest = {
      method: 'GET',
      path: TOKEN_PROBE_PATH,
      body: undefined,
      headers: NO_TOKEN_HEADERS,
      subject: () => 'the token probe',
    }
    // Its own context: a 401 here is the point of the probe, not the bus refusing this
    // relay's token (`unauthorized` stays as it is), and nothing is retried.
    const context: ExchangeContext = { ...this.#context, reached: () => {}, retryBudget: 0 }
    return this.#exchange(request, { timeout }, (answer) => answer.status !== 401, context)
  }

  /**
   * Graceful: refuses new requests at once, lets those in flight finish (and sends the
   * messages waiting for a batch), then closes the pool (not a `dispatcher` given in the
   * options). A request waiting to retry a refused connection has sent nothing yet: it
   * rejects with a `ClosedError` at once instead. Idempotent: every call returns the same
   * Promise.
   */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    this.#closed = true
    for (const exchange of [...this.#retrying]) exchange.abandon()
    this.#closing = this.#drain()
    return this.#closing
  }

  async #drain(): Promise<void> {
    // The pool would wait for its own requests; a caller's dispatcher is not ours to close,
    // so what this sender started is awaited here. Messages waiting for a batch leave when a
    // request ends, so they are sent before this count reaches zero.
    if (this.#active > 0) {
      await new Promise<void>((resolve) => {
        this.#idle = resolve
      })
    }
    await this.#pool?.close()
  }

  /** `POST /send/<name>`: one message on the single route. */
  #deliver(
    envelope: OutgoingEnvelope,
    body: string,
    timeout: number,
    signal: AbortSignal | undefined,
    started?: number,
  ): Promise<void> {
    const request: SendRequest = {
      method: 'POST',
      path: sendPath(envelope.name),
      body,
      headers: this.#headers.json,
      subject: () => messageSubject(envelope.name),
    }
    this.#active++
    return new SendExchange(
      this.#context,
      request,
      timeout,
      signal,
      (answer) => {
        const error = messageOutcome(
          this.#log,
          this.origin,
          envelope,
          answer.status,
          answer.errorCode,
          answer.bodyStart,
        )
        if (error !== undefined) throw error
      },
      started,
    ).promise
  }

  #exchange<T>(
    request: SendRequest,
    options: TransportSendOptions,
    interpret: (answer: Answer) => T,
    context = this.#context,
  ): Promise<T> {
    if (this.#closed) return rejectClosed(request.subject())
    const refused = refuseOptions(options)
    if (refused !== undefined) return refused
    this.#active++
    return new SendExchange(context, request, options.timeout, options.signal, interpret).promise
  }
}

function rejectClosed(subject: string): Promise<never> {
  return Promise.reject(
    new ClosedError(ErrorCodes.CLOSED, `The sender is closed: it cannot deliver ${subject}.`),
  )
}

/**
 * The rejection of a request whose options are invalid or whose signal aborted already;
 * `undefined` when it may start.
 */
function refuseOptions(options: TransportSendOptions): Promise<never> | undefined {
  try {
    checkSendOptions(options)
  } catch (error) {
    return Promise.reject(error)
  }
  if (options.signal?.aborted) return Promise.reject(options.signal.reason)
  return undefined
}

/**
 * The JSON body of an envelope: everything but the name, which travels in the URL. A fixed
 * shape; `JSON.stringify` leaves out the keys whose value is `undefined`.
 */
function wireBody(
  envelope: OutgoingEnvelope,
  instance: string | undefined,
): Omit<OutgoingEnvelope, 'name'> {
  return {
    sender: envelope.sender,
    // Undefined keys are not written: without an instance the body is the original's.
    instance,
    id: envelope.id,
    payload: envelope.payload,
    responseTo: envelope.responseTo,
    timeout: envelope.timeout,
    traceparent: envelope.traceparent,
    tracestate: envelope.tracestate,
  } as Omit<OutgoingEnvelope, 'name'>
}

function stringifyRegistration(service: ServiceRegistration, name: string): string {
  try {
    return JSON.stringify(service)
  } catch (error) {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      `The registration of the service '${name}' cannot travel as JSON: ${describeCause(error)}.`,
      { cause: error },
    )
  }
}

/** The port to connect to: core's one rule for ports, with `0` refused. Missing is `MISSING_OPTION`. */
function checkExocomPort(port: unknown): number {
  if (port === undefined || port === null) throw missingOption('exocomPort', '', port)
  return checkPort(port, 'exocomPort', { connect: true })
}

function checkServiceName(service: unknown, where: string): string {
  const name = (service as { name?: unknown } | null | undefined)?.name
  if (typeof name !== 'string' || name === '') {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      `${where} needs a service with a non-empty name, got ${describeValue(name)}.`,
    )
  }
  return name
}

function checkRetryBudget(budget: unknown): number {
  if (budget === undefined) return DEFAULT_RETRY_BUDGET
  if (typeof budget !== 'number' || !Number.isFinite(budget) || budget < 0) {
    throw invalidOption('retryBudget', 'a finite number of milliseconds, 0 or more', budget)
  }
  return budget
}

function checkTimers(timers: unknown): Timers {
  if (timers === undefined) return nodeTimers
  const candidate = timers as Partial<Timers> | null
  if (typeof candidate?.setTimeout !== 'function' || typeof candidate.clearTimeout !== 'function') {
    throw invalidOption('timers', 'an object with setTimeout and clearTimeout functions', timers)
  }
  return timers as Timers
}

/** The relay checks these already; a direct caller gets the same coded errors. */
function checkSendOptions(options: TransportSendOptions): void {
  checkTimeout(options?.timeout, 'timeout')
  const signal = options.signal
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalidOption('signal', 'an AbortSignal', signal)
  }
}
