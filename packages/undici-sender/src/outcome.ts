import { ErrorCodes, type Logger, type OutgoingEnvelope, type TransportError } from '@exorelay/core'
import { noReceiverError, refusal } from './bus-errors.js'

export function isSuccess(status: number): boolean {
  return status >= 200 && status < 300
}

/**
 * What ExoCom's answer for one message means: `undefined` when it took the message, else the
 * error to reject its send with. The answer of the single route (status, `exorelay-error-code`
 * header, start of the body) and a message's result in a batch answer (status, `code`,
 * `error`) mean the same, so both go through here and fail with the same errors. Logs one
 * `debug` line per answered message.
 */
export function messageOutcome(
  log: Logger,
  origin: string,
  envelope: OutgoingEnvelope,
  status: number,
  errorCode: string | undefined,
  text: string,
): TransportError | undefined {
  if (log.isLevelEnabled?.('debug') !== false) {
    log.debug(
      {
        messageName: envelope.name,
        messageId: envelope.id,
        responseTo: envelope.responseTo,
        status,
      },
      'ExoCom answered',
    )
  }
  if (isSuccess(status)) return undefined
  if (errorCode === ErrorCodes.NO_RECEIVER || status === 404) {
    return noReceiverError(envelope.name, status, text, origin)
  }
  return refusal(messageSubject(envelope.name), status, errorCode, text)
}

/** How errors name a message: `the message 'users.create'`. */
export function messageSubject(name: string): string {
  return `the message '${name}'`
}
