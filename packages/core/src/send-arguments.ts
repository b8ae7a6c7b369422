import { describeValue } from './envelope.js'
import { ErrorCodes, InvalidArgumentError } from './errors.js'
import type { Logger } from './logger.js'
import type { ReceivedMessage } from './message-map.js'
import { checkBoolean, checkTimeout, invalidOption } from './options.js'
import type { PendingReplies } from './pending-replies.js'
import type { ReplyContext, SendOptions } from './relay-types.js'

/** A reply callback as `send` receives it, before typing. */
export type OnReply = (payload: unknown, context: ReplyContext) => unknown

/** What the arguments after the payload of `send(name, payload, callbackOrOptions, options)` say. */
export interface SendArguments {
  onReply: OnReply | undefined
  timeout: number
  signal: AbortSignal | undefined
  reply: boolean | undefined
}

/**
 * Reads the third and fourth arguments of `send`: a reply callback and options, or options
 * alone. Throws an `InvalidArgumentError` for a callback that is not a function or an
 * invalid option; the timeout defaults to the relay's.
 */
export function readSendArguments(
  third: unknown,
  fourth: unknown,
  defaultTimeout: number,
): SendArguments {
  let onReply: OnReply | undefined
  let options: unknown = third
  if (typeof third === 'function') {
    onReply = third as OnReply
    options = fourth
  } else if (fourth !== undefined) {
    throw notAReplyHandler(third)
  }
  if (options === undefined || options === null) {
    return { onReply, timeout: defaultTimeout, signal: undefined, reply: undefined }
  }
  if (typeof options !== 'object') throw notAReplyHandler(options)
  const { timeout, signal, reply } = options as SendOptions
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalidOption('signal', 'an AbortSignal', signal)
  }
  const checkedReply = reply === undefined ? undefined : checkBoolean(reply, 'reply')
  return {
    onReply,
    timeout: checkTimeout(timeout, 'timeout', defaultTimeout),
    signal,
    reply: checkedReply,
  }
}

function notAReplyHandler(value: unknown): InvalidArgumentError {
  return new InvalidArgumentError(
    ErrorCodes.INVALID_HANDLER,
    `The reply handler given to ExoRelay#send must be a function, got ${describeValue(value)}.`,
  )
}

/**
 * Wraps a reply callback for the reply table: each reply gets its context, and a callback
 * that throws or rejects is logged, never crashing the relay.
 */
export function replyCallback(
  id: string,
  onReply: OnReply,
  pending: PendingReplies,
  log: Logger,
): (reply: ReceivedMessage) => void {
  return (reply) => {
    const context: ReplyContext = {
      outcome: reply.name,
      id: reply.id,
      responseTo: id,
      end: () => {
        pending.end(id)
      },
    }
    const fields = { messageName: reply.name, messageId: reply.id, responseTo: id }
    try {
      const result = onReply(reply.payload, context)
      if (isThenable(result)) {
        result.then(undefined, (err: unknown) =>
          log.error({ ...fields, err }, 'reply callback failed'),
        )
      }
    } catch (err) {
      log.error({ ...fields, err }, 'reply callback failed')
    }
  }
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  )
}
