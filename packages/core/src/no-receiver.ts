import { ErrorCodes, TransportError } from './errors.js'

/**
 * The error of a message that no service receives, as every transport words it: one sentence
 * naming the message, then where the routes can be seen and the likely causes. `answer` is
 * what the bus said beyond "no receiver", when it said more; `routes` says where to look.
 *
 * @example
 * ```ts
 * noReceiverError('users.delete', 'ExoCom lists its routes at GET http://localhost:3100/config.json')
 * ```
 */
export function noReceiverError(
  name: string,
  routes: string,
  options: { answer?: string | undefined; status?: number | undefined } = {},
): TransportError {
  const { answer, status } = options
  const said = answer === undefined || answer === '' ? '' : ` (${answer})`
  return new TransportError(
    ErrorCodes.NO_RECEIVER,
    `No service receives the message '${name}'${said}. ${routes}: the service that handles it may not be running or not registered yet, or registers no handler for '${name}'.`,
    status === undefined ? undefined : { status },
  )
}
