import type { StandardSchemaV1 } from '@standard-schema/spec'
import type { Contract } from './contract.js'
import { ERROR_REPLY } from './error-reply.js'
import { ErrorCodes, HandlerError, PayloadInvalidError, type PayloadIssue } from './errors.js'
import type { ReceivedMessage } from './message-map.js'
import { textStart } from './peer-text.js'
import type { PendingReplies } from './pending-replies.js'
import type { Handler } from './relay-types.js'
import { isThenable } from './send-arguments.js'

// What a relay with a contract checks. Everything here runs only for a relay given a contract,
// and only for the names it lists: a relay without one never reaches this file (its handlers
// are not wrapped, its replies go straight to the reply table, its sends check nothing).

/** Issues an error keeps: enough to fix a payload, few enough for a log line and an error reply. */
export const MAX_ISSUES = 20
/** Characters of an issue's path or message kept. */
export const MAX_ISSUE_TEXT = 200

type Result = StandardSchemaV1.Result<unknown>

/** The issues of a failed validation, capped (also those of a peer: it is not trusted). */
export function capIssues(issues: readonly unknown[]): PayloadIssue[] {
  const capped: PayloadIssue[] = []
  for (const issue of issues.slice(0, MAX_ISSUES)) {
    const { message, path } = (typeof issue === 'object' && issue !== null ? issue : {}) as {
      message?: unknown
      path?: unknown
    }
    capped.push({
      path: cut(typeof path === 'string' ? path : pathText(path)),
      message: cut(typeof message === 'string' ? message : 'invalid'),
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
  return more > 0 ? `${text} (and ${more} more issue${more === 1 ? '' : 's'})` : text
}

/**
 * The error of a payload (no `outcome`) or reply (`outcome`) that failed its schema, naming
 * the message, the service whose contract refused it (`undefined`: this relay's own check) and
 * the first issue. `total` counts the issues before capping.
 */
export function payloadInvalid(
  messageName: string,
  outcome: string | undefined,
  service: string | undefined,
  issues: readonly PayloadIssue[],
  total = issues.length,
): PayloadInvalidError {
  const what =
    outcome === undefined
      ? `The payload of '${messageName}'`
      : `The reply '${outcome}' to '${messageName}'`
  const whose = service === undefined ? 'the contract' : `the contract of service '${service}'`
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

/** A validator that threw (or rejected): the validator failed, not the payload. */
function validatorFailed(messageName: string, outcome: string | undefined, error: unknown) {
  const what =
    outcome === undefined ? `'${messageName}'` : `the reply '${outcome}' to '${messageName}'`
  return new HandlerError(
    ErrorCodes.HANDLER_FAILED,
    `The contract's validator of ${what} threw instead of returning issues: ${error instanceof Error ? error.message : String(error)}. Fix the schema; the error is the cause.`,
    { cause: error },
  )
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
  const settle = (result: Result) => {
    if (result.issues !== undefined) return fail(result.issues)
    onValid(result.value)
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
  /** The async reply checks under way, by request id: the next reply of a request waits for them. */
  readonly #checking = new Map<string, Promise<unknown>>()

  constructor(contract: Contract, serviceName: string, pending: PendingReplies) {
    this.#messages = contract.messages
    this.#serviceName = serviceName
    this.#pending = pending
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
    const fail = (issues: readonly StandardSchemaV1.Issue[]) =>
      payloadInvalid(name, undefined, this.#serviceName, capIssues(issues), issues.length)
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
   * against the `replies` of its request. False when nobody waits for it.
   */
  deliver(message: ReceivedMessage): boolean {
    const { responseTo } = message
    if (responseTo === undefined) return false
    const requestName = this.#pending.messageNameOf(responseTo)
    if (requestName === undefined) return false
    const replies = this.#spec(requestName)?.replies
    if (replies === undefined) return this.#pending.deliver(message)
    const before = this.#checking.get(responseTo)
    if (before === undefined) {
      const checked = this.#checkReply(message, requestName, replies)
      if (checked !== undefined) this.#track(responseTo, checked)
    } else {
      // Outcomes reach a callback in the order they came.
      this.#track(
        responseTo,
        before.then(() => this.#checkReply(message, requestName, replies)),
      )
    }
    return true
  }

  #track(responseTo: string, checking: Promise<unknown>): void {
    const done: Promise<unknown> = checking.then(() => {
      if (this.#checking.get(responseTo) === done) this.#checking.delete(responseTo)
    })
    this.#checking.set(responseTo, done)
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
        this.#pending.deliver({ ...message, payload: value } as ReceivedMessage)
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
      (issues) => payloadInvalid(messageName, outcome, undefined, capIssues(issues), issues.length),
      (thrown) => validatorFailed(messageName, outcome, thrown),
      ignore,
    )
  }
}

function ignore(): void {}
