import type { StandardSchemaV1 } from '@standard-schema/spec'
import type { Contract } from './contract.js'
import { describeValue } from './envelope.js'
import { ERROR_REPLY } from './error-reply.js'
import { ErrorCodes, HandlerError, PayloadInvalidError, type PayloadIssue } from './errors.js'
import type { Logger } from './logger.js'
import type { ReceivedMessage } from './message-map.js'
import { textStart } from './peer-text.js'
import type { PendingReplies } from './pending-replies.js'
import type { Handler } from './relay-types.js'
import { isThenable } from './send-arguments.js'

// What a relay with a contract checks. The checks run only for a relay given a contract, and
// only for the names it lists: a relay without one wraps no handler, its replies go straight
// to the reply table, its sends check nothing. Of this file, it only asks `isRefusal` of a
// handler's failure.

/** Issues an error keeps: enough to fix a payload, few enough for a log line and an error reply. */
export const MAX_ISSUES = 20
/** Characters of an issue's path or message kept. */
export const MAX_ISSUE_TEXT = 200
/** A quoted run in an issue's message longer than this is cut to its first `QUOTE_PREVIEW` characters. */
export const MAX_QUOTED = 12
/** Characters of a long quoted run kept: validators quote the value they refused. */
export const QUOTE_PREVIEW = 8
/** The highest issue count an error states; a peer's is not trusted beyond it. */
export const MAX_ISSUE_COUNT = 10_000

// A run quoted in double or single quotes; a single quote only when no letter touches it
// from outside, so that the apostrophes of "isn't ... service's" are not taken for quotes.
// Short runs match too, and are left as they are: matched pairs are consumed left to right,
// so the text between two quoted runs (`"a" | "b" but received "…"`) is never taken for one.
const QUOTED = /"([^"\n]*)"|(?<!\w)'([^'\n]*?)'(?!\w)/g

/**
 * An issue's message with the values it quotes cut to a short preview: valibot writes
 * `received "card 4111111111111111"`, and an issue travels to logs and error replies. A
 * message already previewed comes out the same (a peer's issues are capped again).
 */
function previewQuotes(message: string): string {
  return message.replace(QUOTED, (run, double: string | undefined, single: string | undefined) => {
    const quoted = double ?? single!
    if (quoted.length <= MAX_QUOTED) return run
    return double === undefined
      ? `'${quoted.slice(0, QUOTE_PREVIEW)}…'`
      : `"${quoted.slice(0, QUOTE_PREVIEW)}…"`
  })
}

type Result = StandardSchemaV1.Result<unknown>

/** Issues a PayloadInvalidError of this relay's own refusal of an incoming payload carries. */
const refusals = new WeakSet<PayloadInvalidError>()

/**
 * True for the refusal of an incoming payload by this relay's contract (the sender's fault);
 * false for any other PayloadInvalidError a handler let escape, e.g. of its own send: that
 * is the handler's failure, not its caller's.
 */
export function isRefusal(error: unknown): error is PayloadInvalidError {
  return error instanceof PayloadInvalidError && refusals.has(error)
}

/** The issues of a failed validation, capped (also those of a peer: it is not trusted). */
export function capIssues(issues: unknown): PayloadIssue[] {
  const capped: PayloadIssue[] = []
  if (!Array.isArray(issues)) return capped
  for (const issue of issues.slice(0, MAX_ISSUES)) {
    const { message, path } = (typeof issue === 'object' && issue !== null ? issue : {}) as {
      message?: unknown
      path?: unknown
    }
    capped.push({
      path: cut(typeof path === 'string' ? path : pathText(path)),
      message: cut(typeof message === 'string' ? previewQuotes(message) : 'invalid'),
    })
  }
  return capped
}

/** A Standard Schema path as `user.tags[2]`; `''` for the payload itself. */
function pathText(path: unknown): string {
  if (!Array.isArray(path)) return ''
  let text = ''
  for (const segment of path.slice(0, MAX_ISSUE_TEXT)) {
    const key =
      typeof segment === 'object' && segment !== null ? (segment as { key?: unknown }).key : segment
    if (typeof key === 'number') text += `[${key}]`
    else text += text === '' ? String(key) : `.${String(key)}`
  }
  return text
}

function cut(text: string): string {
  return text.length <= MAX_ISSUE_TEXT ? text : `${text.slice(0, MAX_ISSUE_TEXT - 1)}…`
}

/** What the issues say, for an error's message: the first one, and how many more there are. */
function issuesText(issues: readonly PayloadIssue[], total: number): string {
  const first = issues[0]
  if (first === undefined) return 'the validator gave no issues'
  const text = `${first.path === '' ? '' : `${first.path}: `}${first.message}`
  const more = total - 1
  if (total >= MAX_ISSUE_COUNT) return `${text} (and many more issues)`
  return more > 0 ? `${text} (and ${more} more issue${more === 1 ? '' : 's'})` : text
}

/**
 * The error of a payload (no `outcome`) or reply (`outcome`) that failed its schema, naming
 * the message, the service whose contract refused it (`undefined`: this relay's own check) and
 * the first issue. `total` counts the issues before capping; `outgoing`: this relay's check of
 * what it was about to send, which then did not leave.
 */
export function payloadInvalid(
  messageName: string,
  outcome: string | undefined,
  service: string | undefined,
  issues: readonly PayloadIssue[],
  total = issues.length,
  outgoing = false,
): PayloadInvalidError {
  const what =
    outcome === undefined
      ? `The payload of '${messageName}'`
      : `The reply '${outcome}' to '${messageName}'`
  // An outgoing check stops the message before it leaves: the sender should know nothing went.
  const whose =
    service === undefined
      ? `the contract${outgoing ? ', so it was not sent' : ''}`
      : `the contract of service '${service}'`
  return new PayloadInvalidError(
    outcome === undefined ? ErrorCodes.PAYLOAD_INVALID : ErrorCodes.REPLY_INVALID,
    `${what} does not match ${whose}: ${issuesText(issues, total)}. ${outcome === undefined ? 'Send what the contract says' : 'Reply with a payload the contract lists'}, or update the contract on both sides.`,
    { messageName, outcome, service, issues, issueCount: total },
  )
}

/** A reply whose outcome the contract of its request does not list. */
function unlistedOutcome(
  messageName: string,
  outcome: string,
  listed: Readonly<Record<string, unknown>>,
): PayloadInvalidError {
  const names = Object.keys(listed)
    .map((name) => `'${name}'`)
    .join(', ')
  return new PayloadInvalidError(
    ErrorCodes.REPLY_INVALID,
    `The reply '${textStart(outcome)}' to '${messageName}' is not an outcome the contract lists (${names}). Reply with one of them, or add it to the contract on both sides.`,
    {
      messageName,
      outcome,
      service: undefined,
      issues: [{ path: '', message: `'${cut(outcome)}' is not an outcome of '${messageName}'` }],
    },
  )
}

/** What a validator returned instead of a Standard Schema result (`{ value }` or `{ issues }`). */
class MalformedResult extends TypeError {}

/**
 * A validator that threw, rejected or returned no Standard Schema result: the validator
 * failed, not the payload. The contract named is this relay's own.
 */
function validatorFailed(messageName: string, outcome: string | undefined, error: unknown) {
  const what =
    outcome === undefined ? `'${messageName}'` : `the reply '${outcome}' to '${messageName}'`
  const how =
    error instanceof MalformedResult
      ? `failed: ${error.message}`
      : `threw instead of returning issues: ${error instanceof Error ? error.message : String(error)}`
  return new HandlerError(
    ErrorCodes.HANDLER_FAILED,
    `The contract's validator of ${what} ${how}. Fix the schema; the error is the cause.`,
    { cause: error },
  )
}

/** The issues of a Standard Schema result; `undefined` on success; throws on anything else. */
function issuesOf(result: unknown): readonly StandardSchemaV1.Issue[] | undefined {
  if (typeof result === 'object' && result !== null) {
    const { issues } = result as { issues?: unknown }
    if (Array.isArray(issues)) return issues
    if (issues === undefined && 'value' in result) return undefined
  }
  throw new MalformedResult(
    `it returned ${describeResult(result)}, not { value } nor { issues: [...] }`,
  )
}

function describeResult(result: unknown): string {
  if (typeof result !== 'object' || result === null) return describeValue(result)
  const { issues } = result as { issues?: unknown }
  return issues === undefined
    ? 'an object without value'
    : `issues that are ${describeValue(issues)}`
}

/**
 * Validates `payload`: `undefined` when it passes (then `onValid` got the validator's output),
 * the error when it fails, or a Promise of either for an async validator. A validator that
 * throws gives a `HandlerError`.
 */
function validate(
  schema: StandardSchemaV1,
  payload: unknown,
  fail: (issues: readonly StandardSchemaV1.Issue[]) => PayloadInvalidError,
  failed: (error: unknown) => HandlerError,
  onValid: (value: unknown) => void,
):
  | PayloadInvalidError
  | HandlerError
  | undefined
  | Promise<PayloadInvalidError | HandlerError | undefined> {
  // Never throws: a malformed result is the validator's failure, as a throw is.
  const settle = (result: Result) => {
    let issues: readonly StandardSchemaV1.Issue[] | undefined
    try {
      issues = issuesOf(result)
    } catch (error) {
      return failed(error)
    }
    if (issues !== undefined) return fail(issues)
    onValid((result as StandardSchemaV1.SuccessResult<unknown>).value)
    return undefined
  }
  let result: Result | Promise<Result>
  try {
    result = schema['~standard'].validate(payload)
  } catch (error) {
    return failed(error)
  }
  return isThenable(result) ? Promise.resolve(result).then(settle, failed) : settle(result)
}

/** The checks of one relay's contract. */
export class ContractChecks {
  readonly #messages: Contract['messages']
  readonly #serviceName: string
  readonly #pending: PendingReplies
  readonly #log: Logger
  /**
   * The async reply checks under way, by request id: the next reply of a request waits for
   * them. An entry leaves when its last check is done, or when the request's wait ends.
   */
  readonly #checking = new Map<string, Promise<unknown>>()

  constructor(contract: Contract, serviceName: string, pending: PendingReplies, log: Logger) {
    this.#messages = contract.messages
    this.#serviceName = serviceName
    this.#pending = pending
    this.#log = log
  }

  #spec(name: string) {
    return Object.hasOwn(this.#messages, name) ? this.#messages[name] : undefined
  }

  /**
   * The handler the relay registers for `name`: `handler` itself when the contract has no
   * payload schema for it, else one that validates first and runs `handler` with the
   * validator's output. A refused payload rejects (the handler-failure path, as an error
   * reply to a requester); it never throws, so the transport's receipt stays accepted.
   */
  handler(name: string, handler: unknown): unknown {
    const schema = this.#spec(name)?.payload
    if (schema === undefined || typeof handler !== 'function') return handler
    const run = handler as Handler<any, any>
    const fail = (issues: readonly StandardSchemaV1.Issue[]) => {
      const refused = payloadInvalid(
        name,
        undefined,
        this.#serviceName,
        capIssues(issues),
        issues.length,
      )
      refusals.add(refused)
      return refused
    }
    const failed = (error: unknown) => validatorFailed(name, undefined, error)
    return (payload: unknown, context: Parameters<Handler<any, any>>[1]) => {
      let value: unknown
      const error = validate(schema, payload, fail, failed, (output) => {
        value = output
      })
      if (error === undefined) return run(value, context)
      if (!isThenable(error)) return Promise.reject(error)
      return error.then((refused) => {
        if (refused !== undefined) throw refused
        return run(value, context)
      })
    }
  }

  /**
   * Hands a reply to its waiter, as the reply table's `deliver` does, after checking it
   * against the `replies` of its request. An error reply is never checked, but waits its
   * turn behind the replies of its request still being checked. False when nobody waits.
   */
  deliver(message: ReceivedMessage): boolean {
    const { responseTo } = message
    if (responseTo === undefined) return false
    const requestName = this.#pending.messageNameOf(responseTo)
    if (requestName === undefined) return false
    const replies = this.#spec(requestName)?.replies
    /** Settles the waiter with this reply; a Promise while an async validator checks it. */
    const settle = (): Promise<unknown> | undefined => {
      if (message.name === ERROR_REPLY) {
        // Never checked; and one whose sender stopped waiting meanwhile is dropped quietly.
        this.#pending.deliver(message)
        return undefined
      }
      if (replies === undefined) {
        this.#deliverChecked(message)
        return undefined
      }
      return this.#checkReply(message, requestName, replies)
    }
    const before = this.#checking.get(responseTo)
    // Outcomes reach a callback in the order they came, an error reply too: one that arrives
    // while earlier replies of its request are still checked waits behind them.
    const checking = before === undefined ? settle() : before.then(settle)
    if (checking !== undefined) this.#track(responseTo, checking)
    return true
  }

  /** The wait for request `id` ended: checks still under way deliver to nobody. */
  forget(id: string): void {
    this.#checking.delete(id)
  }

  #track(responseTo: string, checking: Promise<unknown>): void {
    // Never rejects: a check that failed must not stop the next reply's check.
    const done: Promise<unknown> = checking.then(undefined, ignore).then(() => {
      if (this.#checking.get(responseTo) === done) this.#checking.delete(responseTo)
    })
    this.#checking.set(responseTo, done)
  }

  /** Hands a checked reply to its waiter; one whose sender stopped waiting meanwhile is late. */
  #deliverChecked(message: ReceivedMessage): void {
    if (this.#pending.deliver(message)) return
    if (this.#log.isLevelEnabled?.('debug') !== false) {
      const { name, id, responseTo } = message
      this.#log.debug(
        { messageName: name, messageId: id, responseTo },
        'late reply: its sender no longer waited',
      )
    }
  }

  /** Checks one reply and settles its waiter; a Promise while an async validator works. */
  #checkReply(
    message: ReceivedMessage,
    requestName: string,
    replies: Readonly<Record<string, StandardSchemaV1>>,
  ): Promise<unknown> | undefined {
    const responseTo = message.responseTo!
    const outcome = message.name
    const schema = Object.hasOwn(replies, outcome) ? replies[outcome] : undefined
    if (schema === undefined) {
      this.#pending.reject(responseTo, unlistedOutcome(requestName, outcome, replies))
      return undefined
    }
    const error = validate(
      schema,
      message.payload,
      (issues) => payloadInvalid(requestName, outcome, undefined, capIssues(issues), issues.length),
      (thrown) => validatorFailed(requestName, outcome, thrown),
      (value) => {
        this.#deliverChecked({ ...message, payload: value } as ReceivedMessage)
      },
    )
    if (error === undefined) return undefined
    if (!isThenable(error)) {
      this.#pending.reject(responseTo, error)
      return undefined
    }
    return error.then((refused) => {
      if (refused !== undefined) this.#pending.reject(responseTo, refused)
    })
  }

  /**
   * Checks what this relay sends (`validateOutgoing`): a message's payload, or a reply's
   * (`requestName`, the name of the message it answers) against its outcome's schema.
   * `undefined` when it may go (or the contract says nothing of it), else the error, or a
   * Promise of either for an async validator.
   */
  outgoing(
    name: string,
    payload: unknown,
    requestName: string | undefined,
  ):
    | PayloadInvalidError
    | HandlerError
    | undefined
    | Promise<PayloadInvalidError | HandlerError | undefined> {
    let schema: StandardSchemaV1 | undefined
    let outcome: string | undefined
    let messageName = name
    if (requestName === undefined) {
      schema = this.#spec(name)?.payload
    } else {
      if (name === ERROR_REPLY) return undefined
      const replies = this.#spec(requestName)?.replies
      if (replies === undefined) return undefined
      schema = Object.hasOwn(replies, name) ? replies[name] : undefined
      if (schema === undefined) return unlistedOutcome(requestName, name, replies)
      outcome = name
      messageName = requestName
    }
    if (schema === undefined) return undefined
    return validate(
      schema,
      payload,
      (issues) =>
        payloadInvalid(messageName, outcome, undefined, capIssues(issues), issues.length, true),
      (thrown) => validatorFailed(messageName, outcome, thrown),
      ignore,
    )
  }
}

function ignore(): void {}
