import { channel } from 'node:diagnostics_channel'

/**
 * `node:diagnostics_channel` channels, as undici publishes its own: APM agents and tests can
 * observe every message without a logger and without a code change. Publishing costs nothing
 * while nobody subscribes (`hasSubscribers` is checked first).
 *
 * @example
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel'
 * subscribe('exorelay:message:send', ({ serviceName, envelope }) => console.log(serviceName, envelope.name))
 * ```
 */
export const diagnostics = {
  /** `{ serviceName, envelope }`: a message is handed to the transport. */
  send: channel('exorelay:message:send'),
  /** `{ serviceName, message, receipt }`: an incoming message was dispatched. */
  receive: channel('exorelay:message:receive'),
  /** `{ serviceName, message, error }`: a handler threw or rejected. */
  handlerError: channel('exorelay:handler:error'),
} as const
