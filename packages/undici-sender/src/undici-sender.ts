import {
  assertMessageName,
  ClosedError,
  ERROR_CODE_HEADER,
  ErrorCodes,
  envelopeBody,
  InvalidArgumentError,
  isExoRelayError,
  type Logger,
  type OutgoingEnvelope,
  type ServiceRegistration,
  sendPath,
  servicePath,
  silentLogger,
  TimeoutError,
  type Timers,
  type TransportSendOptions,
} from '@exorelay/core'
import { checkToken, describeValue } from '@exorelay/core/internal'
import { type Dispatcher, Pool } from 'undici'
import {
  countAttempts,
  describeCause,
  isUndiciTimeout,
  noReceiverError,
  readBodyStart,
  refusedError,
  unreachableError,
} from './bus-errors.js'
import { Deadline, nodeTimers } from './deadline.js'
import { DEFAULT_RETRY_BUDGET, isNeverWritten, pause, retryDelay } from './retry.js'

export interface UndiciSenderOptions {
  /** Host name or IP address of ExoCom. Default: `'localhost'`. */
  exocomHost?: string | undefined
  /** ExoCom's HTTP port. Required. */
  exocomPort: number
  /**
   * An undici Dispatcher to use instead of the sender's own Pool (tests, proxies, mocks).
   * Requests carry the full origin, so an `Agent` or `MockAgent` works. Not closed by `close()`.
   */
  dispatcher?: Dispatcher | undefined
  /** Keep-alive connections in the pool. Default: 16. Ignored when `dispatcher` is given. */
  connections?: number | undefined
  /** A pino-compatible logger. Default: silent. */
  logger?: Logger | undefined
  /**
   * The shared secret of the ExoCom installation. When set, every request (send, register,
   * deregister) carries `authorization: Bearer <token>`. Visible ASCII, no spaces. It never
   * appears in a log line or an error message. Default: none.
   */
  token?: string | undefined
  /**
   * Milliseconds during which a request whose connection was refused (nothing was written)
   * is retried, with a backoff of 25 ms doubling (±20%), and never past the send's `timeout`.
   * A request that may have reached ExoCom is never retried. `0` disables retries.
   * Default: 1000.
   */
  retryBudget?: number | undefined
  /**
   * The `setTimeout`/`clearTimeout` pair behind the deadlines and the retry backoff, for
   * tests that drive time by hand. Default: Node's timers.
   */
  timers?: Timers | undefined
}

/** Keep-alive connections per sender unless told otherwise. */
export const DEFAULT_CONNECTIONS = 16

// undici's own headers/body timeouts (300 s). Finite deadlines pass the smaller of the two, so
// undici never waits past the send's deadline and never longer than it would by default.
const UNDICI_DEFAULT_TIMEOUT = 300_000

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json' }
const ACCEPT_HEADERS = { accept: 'application/json' }

/** Headers of requests with and without a body. */
interface RequestHeaders {
  readonly json: Record<string, string>
  readonly accept: Record<string, string>
}

/** One request to ExoCom. `subject` names it in errors: `the message 'users.create'`. */
interface Exchange {
  readonly method: 'POST' | 'PUT' | 'DELETE'
  readonly path: string
  readonly body: string | undefined
  readonly subject: string
}

/** What ExoCom answered. The body is read only for non-2xx answers. */
interface Answer {
  readonly status: number
  readonly errorCode: string | undefined
  readonly bodyStart: string
}

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
  readonly #dispatcher: Dispatcher
  /** Our own pool; `undefined` when the caller's dispatcher is used (and not ours to close). */
  readonly #pool: Pool | undefined
  readonly #log: Logger
  readonly #headers: RequestHeaders
  readonly #retryBudget: number
  readonly #timers: Timers
  readonly #inFlight = new Set<Promise<Answer>>()
  // Wakes requests waiting to retry, so that close() does not wait out their backoff.
  readonly #closed = new AbortController()
  #closing: Promise<void> | undefined
  #reachable: boolean | undefined

  constructor(options: UndiciSenderOptions) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError(
        ErrorCodes.MISSING_OPTION,
        `The sender needs options with an exocomPort, got ${describeValue(options)}.`,
      )
    }
    const host = checkHost(options.exocomHost)
    const port = checkPort(options.exocomPort)
    this.origin = `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`
    this.#log = options.logger ?? silentLogger
    const token = checkToken(options.token, 'The token option')
    const authorization = token === undefined ? {} : { authorization: `Bearer ${token}` }
    this.#headers = {
      json: { ...JSON_HEADERS, ...authorization },
      accept: { ...ACCEPT_HEADERS, ...authorization },
    }
    this.#retryBudget = checkRetryBudget(options.retryBudget)
    this.#timers = checkTimers(options.timers)
    if (options.dispatcher !== undefined) {
      if (typeof (options.dispatcher as { request?: unknown } | null)?.request !== 'function') {
        throw new InvalidArgumentError(
          ErrorCodes.INVALID_OPTION,
          `The dispatcher option must be an undici Dispatcher, got ${describeValue(options.dispatcher)}.`,
        )
      }
      this.#dispatcher = options.dispatcher
    } else {
      this.#pool = new Pool(this.origin, { connections: checkConnections(options.connections) })
      this.#dispatcher = this.#pool
    }
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
   * Delivers one message: `POST /send/<url-encoded name>` with the envelope's body (`sender`,
   * `id`, `payload` when present, `responseTo` when answering). Resolves when ExoCom answered
   * 2xx. Rejects with a `TransportError` coded `NO_RECEIVER` (404, or the bus said so in the
   * `exorelay-error-code` header), `BUS_REFUSED` (any other non-2xx) or `BUS_UNREACHABLE`
   * (connection failures; refused connections only once `retryBudget` is spent); with a
   * `TimeoutError` when `timeout` passes; with exactly `signal.reason` when the signal aborts;
   * with a `ClosedError` after `close()`.
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
  async send(envelope: OutgoingEnvelope, options: TransportSendOptions): Promise<void> {
    const name = envelope?.name
    assertMessageName(name, 'UndiciSender#send')
    let body: string
    try {
      body = JSON.stringify(envelopeBody(envelope))
    } catch (error) {
      throw new InvalidArgumentError(
        ErrorCodes.INVALID_PAYLOAD,
        `The payload of the message '${name}' cannot travel as JSON: ${describeCause(error)}.`,
        { cause: error },
      )
    }
    const subject = `the message '${name}'`
    const answer = await this.#exchange(
      { method: 'POST', path: sendPath(name), body, subject },
      options,
    )
    if (this.#log.isLevelEnabled?.('debug') !== false) {
      this.#log.debug(
        {
          messageName: name,
          messageId: envelope.id,
          responseTo: envelope.responseTo,
          status: answer.status,
        },
        'ExoCom answered',
      )
    }
    if (isSuccess(answer.status)) return
    if (answer.errorCode === ErrorCodes.NO_RECEIVER || answer.status === 404) {
      throw noReceiverError(name, answer.status, answer.bodyStart)
    }
    throw refusedError(subject, answer.status, answer.bodyStart)
  }

  /**
   * Self-registration extension: `PUT /services/<name>` with the registration as JSON body.
   * Resolves `'registered'` on 2xx and `'unsupported'` on 404 or 405 (a bus without the
   * extension, e.g. the original ExoCom); rejects like `send()` otherwise.
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
  async register(
    service: ServiceRegistration,
    options: TransportSendOptions,
  ): Promise<'registered' | 'unsupported'> {
    const name = checkServiceName(service, 'UndiciSender#register')
    const subject = `the registration of the service '${name}'`
    let body: string
    try {
      body = JSON.stringify(service)
    } catch (error) {
      throw new InvalidArgumentError(
        ErrorCodes.INVALID_OPTION,
        `The registration of the service '${name}' cannot travel as JSON: ${describeCause(error)}.`,
        { cause: error },
      )
    }
    const answer = await this.#exchange(
      { method: 'PUT', path: servicePath(name), body, subject },
      options,
    )
    if (isSuccess(answer.status)) return 'registered'
    if (isUnsupported(answer.status)) return 'unsupported'
    throw refusedError(subject, answer.status, answer.bodyStart)
  }

  /**
   * `DELETE /services/<name>`: withdraws a self-registration. Resolves on 2xx and on 404/405
   * (nothing to withdraw, or a bus without the extension); rejects like `send()` otherwise.
   */
  async deregister(name: string, options: TransportSendOptions): Promise<void> {
    const serviceName = checkServiceName({ name }, 'UndiciSender#deregister')
    const subject = `the deregistration of the service '${serviceName}'`
    const answer = await this.#exchange(
      { method: 'DELETE', path: servicePath(serviceName), body: undefined, subject },
      options,
    )
    if (isSuccess(answer.status) || isUnsupported(answer.status)) return
    throw refusedError(subject, answer.status, answer.bodyStart)
  }

  /**
   * Graceful: refuses new requests at once, lets those in flight finish, then closes the pool
   * (not a `dispatcher` given in the options). A request waiting to retry a refused connection
   * has sent nothing yet: it rejects with a `ClosedError` at once instead. Idempotent: every
   * call returns the same Promise.
   */
  close(): Promise<void> {
    this.#closed.abort()
    this.#closing ??= (async () => {
      // The pool would wait for its own requests; a caller's dispatcher is not ours to close,
      // so what this sender started is awaited here.
      await Promise.allSettled(this.#inFlight)
      await this.#pool?.close()
    })()
    return this.#closing
  }

  #exchange(exchange: Exchange, options: TransportSendOptions): Promise<Answer> {
    if (this.#closing !== undefined) {
      return Promise.reject(
        new ClosedError(
          ErrorCodes.CLOSED,
          `The sender is closed: it cannot deliver ${exchange.subject}.`,
        ),
      )
    }
    const answer = this.#request(exchange, options)
    this.#inFlight.add(answer)
    const forget = (): void => {
      this.#inFlight.delete(answer)
    }
    answer.then(forget, forget)
    return answer
  }

  async #request(exchange: Exchange, options: TransportSendOptions): Promise<Answer> {
    const { timeout, signal } = checkSendOptions(options)
    if (signal?.aborted) throw signal.reason
    // Before the request exists, so the timeout's stack points at the caller.
    const timeoutError = new TimeoutError(
      `ExoCom did not answer ${exchange.subject} within ${timeout} ms.`,
      timeout,
    )
    const deadline = new Deadline(timeout, signal, timeoutError, this.#timers)
    const request: Dispatcher.RequestOptions = {
      origin: this.origin,
      path: exchange.path,
      method: exchange.method,
      headers: exchange.body === undefined ? this.#headers.accept : this.#headers.json,
    }
    if (exchange.body !== undefined) request.body = exchange.body
    if (deadline.signal !== undefined) request.signal = deadline.signal
    if (timeout !== Number.POSITIVE_INFINITY) {
      // undici treats 0 as "no timeout": round up so a sub-millisecond deadline stays one.
      const requestTimeout = Math.min(Math.ceil(timeout), UNDICI_DEFAULT_TIMEOUT)
      request.headersTimeout = requestTimeout
      request.bodyTimeout = requestTimeout
    }
    const started = performance.now()
    try {
      for (let attempt = 1; ; attempt++) {
        let failure: unknown
        try {
          return await this.#attempt(request)
        } catch (error) {
          failure = error
        }
        if (deadline.abortedByCaller) throw signal?.reason
        if (deadline.expired) throw timeoutError
        if (isUndiciTimeout(failure)) {
          throw new TimeoutError(timeoutError.message, timeout, { cause: failure })
        }
        if (isExoRelayError(failure)) throw failure
        if (!isNeverWritten(failure)) {
          // It may have arrived: sending it again could deliver it twice.
          this.#reachable = false
          throw unreachableError(this.origin, failure)
        }
        const retryIn = retryDelay(attempt)
        if (performance.now() - started + retryIn > this.#retryBudget) {
          this.#reachable = false
          throw unreachableError(this.origin, failure, attempt)
        }
        this.#log.debug(
          { attempt, retryIn, err: failure },
          'ExoCom refused the connection; retrying',
        )
        if (await pause(retryIn, [deadline.signal, this.#closed.signal], this.#timers)) continue
        if (deadline.abortedByCaller) throw signal?.reason
        if (deadline.expired) throw retryTimeoutError(timeoutError, failure, attempt)
        throw new ClosedError(
          ErrorCodes.CLOSED,
          `The sender was closed while it retried ${exchange.subject} (${countAttempts(attempt)} refused).`,
          { cause: failure },
        )
      }
    } finally {
      deadline.dispose()
    }
  }

  /** One HTTP request; the connection is refused, reset or answered. */
  async #attempt(request: Dispatcher.RequestOptions): Promise<Answer> {
    const response = await this.#dispatcher.request(request)
    this.#reachable = true
    const status = response.statusCode
    if (isSuccess(status)) {
      // undici keeps the connection only once the body was consumed.
      await response.body.dump()
      return { status, errorCode: undefined, bodyStart: '' }
    }
    const errorCode = firstHeader(response.headers[ERROR_CODE_HEADER])
    const bodyStart = await readBodyStart(response.body)
    return { status, errorCode, bodyStart }
  }
}

/**
 * The deadline passed while refused connections were being retried: a timeout that says why,
 * with the caller's stack of `timeoutError`.
 */
function retryTimeoutError(
  timeoutError: TimeoutError,
  cause: unknown,
  attempts: number,
): TimeoutError {
  const message = `${timeoutError.message.slice(0, -1)}: ${countAttempts(attempts)} to connect failed (${describeCause(cause)}).`
  const error = new TimeoutError(message, timeoutError.timeout, { cause })
  if (timeoutError.stack !== undefined) {
    error.stack = timeoutError.stack.replace(timeoutError.message, message)
  }
  return error
}

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300
}

/** 404 or 405: a bus without the self-registration extension (the original ExoCom). */
function isUnsupported(status: number): boolean {
  return status === 404 || status === 405
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

function checkHost(host: unknown): string {
  if (host === undefined) return 'localhost'
  if (typeof host !== 'string' || host.trim() === '') {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      `The exocomHost option must be a non-empty host name, got ${describeValue(host)}.`,
    )
  }
  return host
}

function checkPort(port: unknown): number {
  if (port === undefined || port === null) {
    throw new InvalidArgumentError(
      ErrorCodes.MISSING_OPTION,
      `The sender needs an exocomPort, got ${describeValue(port)}.`,
    )
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      `The exocomPort option must be an integer from 1 to 65535, got ${describeValue(port)}.`,
    )
  }
  return port
}

function checkConnections(connections: unknown): number {
  if (connections === undefined) return DEFAULT_CONNECTIONS
  if (typeof connections !== 'number' || !Number.isInteger(connections) || connections < 1) {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      `The connections option must be a positive integer, got ${describeValue(connections)}.`,
    )
  }
  return connections
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
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      `The retryBudget option must be a finite number of milliseconds, 0 or more, got ${describeValue(budget)}.`,
    )
  }
  return budget
}

function checkTimers(timers: unknown): Timers {
  if (timers === undefined) return nodeTimers
  const candidate = timers as Partial<Timers> | null
  if (typeof candidate?.setTimeout !== 'function' || typeof candidate.clearTimeout !== 'function') {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      `The timers option must have setTimeout and clearTimeout functions, got ${describeValue(timers)}.`,
    )
  }
  return timers as Timers
}

/** The relay checks these already; a direct caller gets the same coded errors. */
function checkSendOptions(options: TransportSendOptions): TransportSendOptions {
  const timeout = options?.timeout
  if (typeof timeout !== 'number' || !(timeout > 0)) {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      `The timeout option must be a positive number of milliseconds (or Infinity), got ${describeValue(timeout)}.`,
    )
  }
  const signal = options.signal
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      `The signal option must be an AbortSignal, got ${describeValue(signal)}.`,
    )
  }
  return options
}
