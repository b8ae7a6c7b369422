import type { AnyMessages, ExoRelay, Handler, HandlerMap, Logger, MessageMap } from 'exorelay'

/** The names of the lifecycle hooks: reserved, so no message may be named so. */
export const LIFECYCLE_HOOKS = ['beforeAll', 'afterAll'] as const

/** What `beforeAll` and `afterAll` get. */
export interface LifecycleContext<M extends MessageMap<M> = AnyMessages> {
  /**
   * The service's relay. In `beforeAll` it does not listen yet (a reply could not reach it), so
   * the hook prepares rather than awaits peers; in `afterAll` it is closed.
   */
  relay: ExoRelay<M>
  /** The service's logger: the relay's, so its lines carry the service's name. */
  log: Logger
  /**
   * Aborts when the hook's time is up: for `beforeAll` when the startup timeout passes (the
   * service then does not start), for `afterAll` when the signal given to `close()` aborts.
   * Pass it to whatever the hook awaits, so that nothing keeps running after it.
   */
  signal: AbortSignal
}

/** The optional hooks around a service's life. */
export interface LifecycleHooks<M extends MessageMap<M> = AnyMessages> {
  /**
   * Awaited before the service goes online (connect a database, say). When it rejects, or takes
   * longer than the startup timeout, the service does not start.
   */
  beforeAll?: (context: LifecycleContext<M>) => unknown
  /** Awaited on shutdown, after the relay closed and the in-flight handlers finished. */
  afterAll?: (context: LifecycleContext<M>) => unknown
}

/**
 * What a service's handler module exports by default: a handler for each message it receives
 * (the signature of `relay.registerHandler`), plus the optional `beforeAll` and `afterAll`.
 */
export type ServiceDefinition<M extends MessageMap<M> = AnyMessages> = (string extends keyof M
  ? // Untyped: HandlerMap's optional index signature, intersected with the hooks, would type
    // each handler's context for its own literal name, which its signature then rejects.
    { [name: string]: Handler<M, string> }
  : HandlerMap<M>) &
  LifecycleHooks<M>

/**
 * Types a service's handler map with its message map: each handler's payload, `reply`
 * outcomes and `send` come from `M`. It returns its argument unchanged.
 *
 * @example
 * ```ts
 * import { defineService } from 'exoservice'
 *
 * type Messages = {
 *   'users.create': { payload: { name: string }; replies: { 'users.created': { id: number; name: string } } }
 * }
 *
 * export default defineService<Messages>({
 *   async beforeAll({ log }) {
 *     log.info({}, 'connecting the database')
 *   },
 *   'users.create': async (user, { reply }) => {
 *     reply('users.created', { id: 1, name: user.name })
 *   },
 * })
 * ```
 */
export function defineService<M extends MessageMap<M> = AnyMessages>(
  definition: ServiceDefinition<M>,
): ServiceDefinition<M> {
  return definition
}
