import { channel, tracingChannel } from 'node:diagnostics_channel'
import type { OutgoingEnvelope } from './envelope.js'
import type { ReceivedMessage } from './message-map.js'

/**
 * What the `exorelay:send` tracing channel publishes, one object per send from `start` to
 * `asyncEnd` when the send settles (a request that waits for ever may never), so that a subscriber may keep its own state (a span) on it.
 */
export interface SendTrace {
  readonly serviceName: string
  /**
   * The message as it will leave. A `start` subscriber may set its `traceparent` and
   * `tracestate` (a tracer puts its span's context there; the relay drops what is not valid
   * W3C Trace Context); nothing else may change. A subscriber that throws crashes the process
   * (`node:diagnostics_channel` rethrows on the next tick): catch what can fail.
   */
  readonly envelope: OutgoingEnvelope
  /** True for a send that waits for a reply; false for a reply or a fire-and-forget message. */
  readonly expectsReply: boolean
  /** Set before `asyncEnd` when a reply came; its `name` is the outcome. */
  reply?: ReceivedMessage
  /** Set before `error` when the send failed (timed out, aborted, not accepted). */
  error?: unknown
}

/**
 * What the `exorelay:handle` tracing channel publishes, one object per handler run from
 * `start` to `asyncEnd` (a handler that returns no promise ends at `end`: see `async`).
 */
export interface HandleTrace {
  readonly serviceName: string
  /** The message the handler gets, as it arrived (its `traceparent`, `timeout`…). */
  readonly message: ReceivedMessage
  /**
   * Set by a `start` subscriber: the trace context the handler sees as `ctx.traceparent` and
   * its sends carry, instead of the message's (a tracer puts its span's context there).
   */
  traceparent?: string | undefined
  tracestate?: string | undefined
  /**
   * Set by a `start` subscriber: runs the handler, for example inside a tracer's context so
   * that everything the handler does is part of its span. Wrap the one already set, if any.
   */
  runHandler?: (<T>(handler: () => T) => T) | undefined
  /**
   * Set at `end` when the handler returned a promise: `asyncStart` and `asyncEnd` follow when
   * it settles. Otherwise the run ended at `end`.
   */
  async?: boolean
  /** Set before `error` when the handler threw or its promise rejected. */
  error?: unknown
  /**
   * Set at the end when the handler was told to stop while it ran: its deadline passed (a
   * `TimeoutError`), its caller cancelled (`AbortError`) or `close()` gave up (`ClosedError`).
   * Its work was for nobody, even when it returned normally.
   */
  stopped?: Error
}

/**
 * `node:diagnostics_channel` channels, as undici publishes its own: APM agents, tracers and
 * tests observe every message without a logger and without a code change. Publishing costs
 * nothing while nobody subscribes (`hasSubscribers` is checked first).
 *
 * The two tracing channels follow Node's `TracingChannel` order: `start` (in the caller's
 * async context), `end` (the synchronous part returned), then `error` on failure and
 * `asyncStart`/`asyncEnd` when it settled. `@exorelay/opentelemetry` makes its spans from them.
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
  // The trace is given as both type arguments: @types/node 26 swapped them (context first,
  // then store; until 25 store first), and a user's tsc reads these declarations with their
  // @types/node. Nothing here binds a store, so either order reads the same.
  /** A `SendTrace` per send, from the moment it leaves until it settled. */
  sendTracing: tracingChannel<SendTrace, SendTrace>('exorelay:send'),
  /** A `HandleTrace` per handler run, from its start until it settled. */
  handleTracing: tracingChannel<HandleTrace, HandleTrace>('exorelay:handle'),
} as const

/** Publishes how a traced send ended: its reply, or its error. */
export function endSendTrace(
  trace: SendTrace,
  reply: ReceivedMessage | undefined,
  error?: unknown,
) {
  const channels = diagnostics.sendTracing
  if (error !== undefined) {
    trace.error = error
    channels.error.publish(trace)
  } else if (reply !== undefined) trace.reply = reply
  channels.asyncStart.publish(trace)
  channels.asyncEnd.publish(trace)
}

/**
 * Publishes how a traced handler run ended: `sync` when it returned no promise (or threw), so
 * that only `end` follows `start`, as with Node's `traceSync`.
 */
export function endHandleTrace(
  trace: HandleTrace,
  context: { stopReason(): Error | undefined },
  sync: boolean,
  error?: unknown,
) {
  const channels = diagnostics.handleTracing
  const stopped = context.stopReason()
  if (stopped !== undefined) trace.stopped = stopped
  if (error !== undefined) {
    trace.error = error
    channels.error.publish(trace)
  }
  if (sync) {
    channels.end.publish(trace)
    return
  }
  channels.asyncStart.publish(trace)
  channels.asyncEnd.publish(trace)
}
