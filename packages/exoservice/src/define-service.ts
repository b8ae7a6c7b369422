import { describeValue } from '@exorelay/core/internal'
import {
  type AnyMessages,
  type Contract,
  ErrorCodes,
  type ExoRelay,
  type Handler,
  type HandlerMap,
  InvalidArgumentError,
  isContract,
  type Logger,
  type MessageMap,
} from 'exorelay'

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

// Where `defineService(contract, …)` keeps the contract: a symbol key, not enumerable, so the
// handler map's keys stay message names and hooks. `Symbol.for`, as a handler module loaded
// through tsx may see another copy of this package.
const kContract = Symbol.for('exoservice.contract')

/**
 * Types a service's handler map with its message map: each handler's payload, `reply`
 * outcomes and `send` come from `M`. Given a contract first (`defineContract` of `exorelay`),
 * `M` is the contract's, and the contract travels with the map: `startService(map)` and
 * `exoservice run` give it to the relay, which then validates each incoming payload, unless
 * `service.yml` names a contract module (`messages.contract`), which wins. Without a contract
 * it returns its argument unchanged.
 *
 * Throws an `InvalidArgumentError` coded `EXORELAY_ERR_ARG_INVALID_CONTRACT` when given two
 * arguments and the first is not a contract.
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
 *
 * @example
 * ```ts
 * import { defineContract } from 'exorelay'
 * import { defineService } from 'exoservice'
 * import { z } from 'zod'
 *
 * const contract = defineContract({
 *   'users.create': {
 *     payload: z.object({ name: z.string() }),
 *     replies: { 'users.created': z.object({ id: z.number(), name: z.string() }) },
 *   },
 * })
 *
 * export default defineService(contract, {
 *   'users.create': async (user, { reply }) => {
 *     reply('users.created', { id: 1, name: user.name })
 *   },
 * })
 * ```
 */
export function defineService<M extends MessageMap<M> = AnyMessages>(
  definition: ServiceDefinition<M>,
): ServiceDefinition<M>
export function defineService<M extends MessageMap<M>>(
  contract: Contract<M>,
  definition: ServiceDefinition<M>,
): ServiceDefinition<M>
export function defineService<M extends MessageMap<M>>(
  first: ServiceDefinition<M> | Contract<M>,
  second?: ServiceDefinition<M>,
): ServiceDefinition<M> {
  if (second === undefined) return first as ServiceDefinition<M>
  if (!isContract(first)) {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_CONTRACT,
      `defineService(contract, handlers) needs a contract made by defineContract first, got ${describeValue(first)}. Pass the handler map alone, or define the contract with defineContract({ ... }).`,
    )
  }
  // A copy: the caller's map stays as it was, and two services may share one map.
  const definition = { ...second }
  Object.defineProperty(definition, kContract, { value: first, enumerable: false })
  return definition
}

/** The contract `defineService(contract, …)` attached to a handler map, if any. */
export function contractOf(definition: unknown): Contract | undefined {
  if (typeof definition !== 'object' || definition === null) return undefined
  const contract = (definition as Record<symbol, unknown>)[kContract]
  return isContract(contract) ? contract : undefined
}
