/**
 * Every error ExoRelay raises carries a stable `code`. Codes never change once released;
 * `docs/reference/errors.md` lists each one with when it happens and how to fix it, and a
 * test keeps that table and this object in agreement. Core knows no HTTP: where a code is
 * answered over the wire, the HTTP transports answer it with the status `statusOf` gives, see
 * `@exorelay/http-protocol`.
 */
export const ErrorCodes = {
  /** A message name is empty, not a string, or too long. */
  INVALID_NAME: 'EXORELAY_ERR_ARG_INVALID_NAME',
  /** A payload cannot travel as JSON (a function, a symbol, a bigint). */
  INVALID_PAYLOAD: 'EXORELAY_ERR_ARG_INVALID_PAYLOAD',
  /** A handler or reply callback is missing or not a function. */
  INVALID_HANDLER: 'EXORELAY_ERR_ARG_INVALID_HANDLER',
  /** A handler is already registered for the name. */
  DUPLICATE_HANDLER: 'EXORELAY_ERR_ARG_DUPLICATE_HANDLER',
  /** An option has the wrong type or range (a port that is not a number, a negative timeout). */
  INVALID_OPTION: 'EXORELAY_ERR_ARG_INVALID_OPTION',
  /** A required option is missing and its environment variable is not set. */
  MISSING_OPTION: 'EXORELAY_ERR_ARG_MISSING_OPTION',
  /** A Fastify app already serves a relay: the `exorelay` plugin was registered in it twice. */
  DUPLICATE_RELAY: 'EXORELAY_ERR_ARG_DUPLICATE_RELAY',
  /** No reply arrived before the deadline. */
  TIMEOUT: 'EXORELAY_ERR_REPLY_TIMEOUT',
  /** The caller's `AbortSignal` fired before a reply arrived. */
  ABORTED: 'EXORELAY_ERR_REPLY_ABORTED',
  /** The bus could not be reached (connection refused, reset, DNS failure). */
  BUS_UNREACHABLE: 'EXORELAY_ERR_TRANSPORT_BUS_UNREACHABLE',
  /** The bus answered with a non-2xx status. */
  BUS_REFUSED: 'EXORELAY_ERR_TRANSPORT_BUS_REFUSED',
  /** The bus says that no service receives the message name. */
  NO_RECEIVER: 'EXORELAY_ERR_TRANSPORT_NO_RECEIVER',
  /**
   * The bus could not reach the only service that receives a request (nothing listened at its
   * address), dropped that service, and said so at once instead of letting the caller wait.
   */
  RECEIVER_UNREACHABLE: 'EXORELAY_ERR_TRANSPORT_RECEIVER_UNREACHABLE',
  /** The relay was closed (or was closing) while the operation was pending. */
  CLOSED: 'EXORELAY_ERR_RELAY_CLOSED',
  /** The listen port is in use. */
  ADDRESS_IN_USE: 'EXORELAY_ERR_LISTEN_ADDRESS_IN_USE',
  /** The listener could not start for another reason (permission, bad host). */
  LISTEN_FAILED: 'EXORELAY_ERR_LISTEN_FAILED',
  /** An incoming message has no `id` (the original protocol's answer `missing message id`). */
  MISSING_ID: 'EXORELAY_ERR_PROTOCOL_MISSING_ID',
  /** An incoming message is malformed: an id or responseTo that is not a short string, a body that is not an object. */
  INVALID_MESSAGE: 'EXORELAY_ERR_PROTOCOL_INVALID_MESSAGE',
  /** No reply waiter and no handler match an incoming message (answer text `unknown message: '<name>'`). */
  UNKNOWN_MESSAGE: 'EXORELAY_ERR_PROTOCOL_UNKNOWN_MESSAGE',
  /** A local handler threw synchronously while receiving a message. */
  HANDLER_FAILED: 'EXORELAY_ERR_HANDLER_FAILED',
  /** Too many handlers are running and the queue is full; the message was refused. */
  OVERLOADED: 'EXORELAY_ERR_RELAY_OVERLOADED',
  /** The remote handler of a request failed; its own code is in `remoteCode`. */
  REMOTE_HANDLER_FAILED: 'EXORELAY_ERR_REMOTE_HANDLER_FAILED',
  /** A request lacked the shared secret (bearer token), or carried a wrong one. */
  UNAUTHORIZED: 'EXORELAY_ERR_AUTH_UNAUTHORIZED',
  /**
   * The bus knows the request's credential, but it does not allow what was asked: a sender
   * other than the credential's service, a registration of another service, the operator's
   * routes, or a registration naming another address (identity mode, decision 0018).
   */
  FORBIDDEN: 'EXORELAY_ERR_AUTH_FORBIDDEN',
  /** The relay is not listening (yet, or any more), so it cannot receive. */
  NOT_LISTENING: 'EXORELAY_ERR_RELAY_NOT_LISTENING',
  /** ExoCom failed while handling a request: a fault of the bus, not of the message. */
  BUS_FAILED: 'EXORELAY_ERR_BUS_FAILED',
  /** ExoCom has no HTTP route for the method and path asked for. */
  BUS_NO_ROUTE: 'EXORELAY_ERR_BUS_NO_ROUTE',
  /** ExoCom is shutting down and takes no new messages. */
  BUS_CLOSING: 'EXORELAY_ERR_BUS_CLOSING',
  /** A service registration or routing table sent to ExoCom is invalid. */
  BUS_INVALID_REGISTRATION: 'EXORELAY_ERR_BUS_INVALID_REGISTRATION',
  /** A withdrawal names a service ExoCom has not registered. */
  BUS_UNKNOWN_SERVICE: 'EXORELAY_ERR_BUS_UNKNOWN_SERVICE',
  /** ExoCom has as many clients on its event stream (`GET /events`) as it takes (`maxEventClients`). */
  BUS_TOO_MANY_EVENT_CLIENTS: 'EXORELAY_ERR_BUS_TOO_MANY_EVENT_CLIENTS',
  /**
   * ExoCom refused a message, delivering it to none of its receivers, because one of them has
   * as many deliveries under way as the bus holds for it (`maxPending`, `maxPendingBytes`).
   */
  BUS_RECEIVER_BUSY: 'EXORELAY_ERR_BUS_RECEIVER_BUSY',
  /**
   * A payload does not match the relay's contract: refused by the receiving service before its
   * handler ran, or by the sender before it left (`validateOutgoing`).
   */
  PAYLOAD_INVALID: 'EXORELAY_ERR_PAYLOAD_INVALID',
  /**
   * A reply does not match the contract of its request: an outcome the contract does not list,
   * or a payload its outcome's schema refuses.
   */
  REPLY_INVALID: 'EXORELAY_ERR_REPLY_INVALID',
  /** `defineContract` got something that is not a contract: a schema that is not Standard Schema v1, a bad name or key. */
  INVALID_CONTRACT: 'EXORELAY_ERR_ARG_INVALID_CONTRACT',
} as const

/** One of the stable codes of {@link ErrorCodes}, e.g. `'EXORELAY_ERR_REPLY_TIMEOUT'`. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

/** Options of an error's constructor, as `Error`'s. */
export interface ExoRelayErrorOptions {
  /** The error that caused this one, kept as `error.cause`. */
  cause?: unknown
}

// Brands, as undici's errors have: two installed copies of core (a service that depends on
// two versions, or a bundled copy beside node_modules) make two sets of classes, and a plain
// `instanceof` would fail across them. Each class gets a brand under a `Symbol.for` key (the
// same symbol in every copy in the process) as a non-enumerable property of its prototype,
// and a static `[Symbol.hasInstance]` that looks for it. Both are installed by `brand()` after
// the class rather than written in it, so they stay out of JSON, logs and the public types.
type ErrorClass = abstract new (...args: never[]) => Error

const ordinaryHasInstance = Function.prototype[Symbol.hasInstance]

function hasBrand(instance: unknown, key: symbol): boolean {
  return (
    typeof instance === 'object' &&
    instance !== null &&
    (instance as Record<symbol, unknown>)[key] === true
  )
}

function brand(cls: ErrorClass, key: symbol): void {
  Object.defineProperty(cls.prototype, key, { value: true })
  Object.defineProperty(cls, Symbol.hasInstance, {
    // A subclass declared outside this file inherits this method but has no brand of its own:
    // for it (`this` is not `cls`) the prototype chain decides, as it would without brands.
    value: function hasInstance(this: ErrorClass, instance: unknown): boolean {
      return this === cls ? hasBrand(instance, key) : ordinaryHasInstance.call(this, instance)
    },
  })
}

const kExoRelayError = Symbol.for('exorelay.error.ExoRelayError')

/** The base class of every error ExoRelay raises. Branch on `code`, not on `message`. */
export class ExoRelayError extends Error {
  override name = 'ExoRelayError'
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: ExoRelayErrorOptions) {
    super(message, options)
    this.code = code
  }

  /** The form an error takes in logs and on the wire: data, never a stack. */
  toJSON(): { name: string; code: ErrorCode; message: string } {
    return { name: this.name, code: this.code, message: this.message }
  }
}
brand(ExoRelayError, kExoRelayError)

const kInvalidArgumentError = Symbol.for('exorelay.error.InvalidArgumentError')

/** A programmer error: a bad argument or option. Fix the calling code. */
export class InvalidArgumentError extends ExoRelayError {
  override name = 'InvalidArgumentError'
}
brand(InvalidArgumentError, kInvalidArgumentError)

const kTimeoutError = Symbol.for('exorelay.error.TimeoutError')

/** No reply arrived before the deadline. Retry, raise `timeout`, or check the receiving service. */
export class TimeoutError extends ExoRelayError {
  override name = 'TimeoutError'
  /** The deadline that passed, in milliseconds. */
  readonly timeout: number

  constructor(message: string, timeout: number, options?: ExoRelayErrorOptions) {
    super(ErrorCodes.TIMEOUT, message, options)
    this.timeout = timeout
  }
}
brand(TimeoutError, kTimeoutError)

const kAbortError = Symbol.for('exorelay.error.AbortError')

/** The caller gave up through its `AbortSignal`; `cause` is the signal's reason. */
export class AbortError extends ExoRelayError {
  override name = 'AbortError'
}
brand(AbortError, kAbortError)

const kTransportError = Symbol.for('exorelay.error.TransportError')

/** The bus could not be reached or refused the message. `status` is set when it answered. */
export class TransportError extends ExoRelayError {
  override name = 'TransportError'
  readonly status: number | undefined

  constructor(
    code: ErrorCode,
    message: string,
    options?: ExoRelayErrorOptions & { status?: number },
  ) {
    super(code, message, options)
    this.status = options?.status
  }
}
brand(TransportError, kTransportError)

const kClosedError = Symbol.for('exorelay.error.ClosedError')

/** The relay is closed or closing. Nothing more will be sent or received. */
export class ClosedError extends ExoRelayError {
  override name = 'ClosedError'
}
brand(ClosedError, kClosedError)

const kListenError = Symbol.for('exorelay.error.ListenError')

/** The listener could not bind its port. */
export class ListenError extends ExoRelayError {
  override name = 'ListenError'
}
brand(ListenError, kListenError)

const kProtocolError = Symbol.for('exorelay.error.ProtocolError')

/** An incoming message broke the wire protocol, or nobody handles it. */
export class ProtocolError extends ExoRelayError {
  override name = 'ProtocolError'
}
brand(ProtocolError, kProtocolError)

const kHandlerError = Symbol.for('exorelay.error.HandlerError')

/** A local handler threw while a message was being received. */
export class HandlerError extends ExoRelayError {
  override name = 'HandlerError'
}
brand(HandlerError, kHandlerError)

const kRemoteHandlerError = Symbol.for('exorelay.error.RemoteHandlerError')

/**
 * The handler of a request failed in the receiving service and answered with an error reply.
 * `remoteCode` is the code it threw (its own, or `EXORELAY_ERR_HANDLER_FAILED` for an error
 * without one), `data` what it attached. Errors cross the wire as data, never with a stack.
 */
export class RemoteHandlerError extends ExoRelayError {
  override name = 'RemoteHandlerError'
  readonly remoteCode: string
  readonly data: unknown

  constructor(message: string, remoteCode: string, data?: unknown, options?: ExoRelayErrorOptions) {
    super(ErrorCodes.REMOTE_HANDLER_FAILED, message, options)
    this.remoteCode = remoteCode
    this.data = data
  }
}
brand(RemoteHandlerError, kRemoteHandlerError)

/** One problem a validator found in a payload: where (`user.tags[2]`, `''` for the payload itself) and what. */
export interface PayloadIssue {
  readonly path: string
  readonly message: string
}

/** What a {@link PayloadInvalidError} says beside its code and message. */
export interface PayloadInvalidDetails {
  /** The message whose payload (or whose reply) failed. */
  messageName: string
  /** The reply's outcome, for `REPLY_INVALID`. */
  outcome?: string | undefined
  /** The service that refused it, when another one did; `undefined` for a check of this relay's own. */
  service?: string | undefined
  /** The validator's issues, at most 20, each path and message at most 200 characters. */
  issues: readonly PayloadIssue[]
  /** How many issues the validator found. Default: `issues.length`. */
  issueCount?: number | undefined
}

const kPayloadInvalidError = Symbol.for('exorelay.error.PayloadInvalidError')

/**
 * A payload or a reply does not match the contract (`defineContract`): coded
 * `EXORELAY_ERR_PAYLOAD_INVALID` (a message's payload) or `EXORELAY_ERR_REPLY_INVALID` (a
 * reply's outcome or payload). `issues` says what the validator found. A refusal by the
 * receiving service reaches the awaiting caller as this error too, with `service` set.
 *
 * @example
 * ```ts
 * try {
 *   await relay.send('users.create', { name: 42 })
 * } catch (error) {
 *   if (error instanceof PayloadInvalidError) console.log(error.issues) // [{ path: 'name', message: '…' }]
 * }
 * ```
 */
export class PayloadInvalidError extends ExoRelayError {
  override name = 'PayloadInvalidError'
  /** The message whose payload (or whose reply) failed. */
  readonly messageName: string
  /** The reply's outcome, for `REPLY_INVALID`; `undefined` otherwise. */
  readonly outcome: string | undefined
  /** The service that refused it; `undefined` when this relay's own check did. */
  readonly service: string | undefined
  /**
   * What the validator found: at most 20 issues, each path and message at most 200 characters,
   * a long quoted value in a message cut to a short preview.
   */
  readonly issues: readonly PayloadIssue[]
  /** How many issues the validator found; `issues` keeps the first 20. */
  readonly issueCount: number

  constructor(
    code: typeof ErrorCodes.PAYLOAD_INVALID | typeof ErrorCodes.REPLY_INVALID,
    message: string,
    details: PayloadInvalidDetails,
    options?: ExoRelayErrorOptions,
  ) {
    super(code, message, options)
    this.messageName = details.messageName
    this.outcome = details.outcome
    this.service = details.service
    this.issues = details.issues
    this.issueCount = Math.max(details.issueCount ?? 0, details.issues.length)
  }
}
brand(PayloadInvalidError, kPayloadInvalidError)

/**
 * True when `error` is an ExoRelay error, optionally with the given code. Like `instanceof`, it
 * holds for errors from any installed copy of `@exorelay/core`.
 */
export function isExoRelayError(error: unknown, code?: ErrorCode): error is ExoRelayError {
  return error instanceof ExoRelayError && (code === undefined || error.code === code)
}
