import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  type AnyMessages,
  type Contract,
  ErrorCodes,
  ExoRelay,
  type ExoRelayOptions,
  InvalidArgumentError,
  type MessageMap,
} from 'exorelay'
import { createBaseLogger } from 'exorelay/internal'
import type { LifecycleContext, ServiceDefinition } from './define-service.js'
import { ExoServiceError, ExoServiceErrorCodes, thrownMessage } from './errors.js'
import { loadContract } from './load-contract.js'
import { checkDefinition, type LoadedHandlers, loadHandlers } from './load-handlers.js'
import { DEFAULT_ONLINE_TEXT, readServiceFile, type ServiceFile } from './service-file.js'

/** How long `beforeAll` may take unless told otherwise: 30 s. */
export const DEFAULT_STARTUP_TIMEOUT = 30_000

// setTimeout's largest delay; a longer one fires at once.
const MAX_TIMEOUT = 2_147_483_647

/**
 * Options of {@link startService}: the relay's options (each may come from the environment, as
 * for `new ExoRelay`), plus the startup timeout.
 */
export interface StartServiceOptions extends ExoRelayOptions {
  /**
   * Milliseconds `beforeAll` may take; past it the service does not start. A positive integer.
   * Env `EXOSERVICE_STARTUP_TIMEOUT`.
   * @default `30_000`
   */
  startupTimeout?: number
  /**
   * Aborting it while the service starts stops the start: `beforeAll`'s own signal aborts,
   * nothing is left listening (`afterAll` runs when `beforeAll` had finished), and
   * `startService` rejects with the signal's reason. `exoservice run` aborts it on the first
   * SIGINT or SIGTERM, so that a stop during a long `beforeAll` does not wait for it.
   * @default none
   */
  signal?: AbortSignal | undefined
}

/** A service that {@link startService} started: online until `close()`. */
export interface RunningService<M extends MessageMap<M> = AnyMessages> {
  /** The service's relay, listening. */
  relay: ExoRelay<M>
  /** The port the relay listens on. */
  port: number
  /** The service's `service.yml`, read and checked; `undefined` when started from a handler map. */
  service: ServiceFile | undefined
  /** One sentence for each handler that `service.yml` does not declare under `receives`. */
  warnings: readonly string[]
  /**
   * Closes the relay (in-flight handlers finish, within the relay's `closeTimeout`), then awaits
   * `afterAll`. Rejects with an `ExoServiceError` coded `EXOSERVICE_ERR_SHUTDOWN` when `afterAll`
   * fails; the relay is closed either way. `signal` aborts `afterAll`'s signal. Safe to call twice:
   * the second call returns the first one's promise.
   */
  close(options?: { signal?: AbortSignal }): Promise<void>
}

/**
 * Starts the service in the folder `source`: reads its `service.yml`, loads its handler module
 * and checks it against `receives`, creates its relay (`serviceName` defaults to env `SERVICE_NAME`, then
 * the service's `type`), logs the handlers `service.yml` does not declare as warnings, awaits
 * `beforeAll` within `startupTimeout`, listens and logs `online at port <N>`.
 *
 * When `service.yml` names a contract module (`messages.contract`), or else the handler map was
 * made by `defineService(contract, …)`, the relay is given that contract, and validates each
 * incoming payload against it.
 *
 * Rejects with an {@link ExoServiceError}: `EXOSERVICE_ERR_SERVICE_FILE`,
 * `EXOSERVICE_ERR_HANDLERS`, `EXOSERVICE_ERR_CONTRACT`, or `EXOSERVICE_ERR_STARTUP` when `beforeAll` fails or takes too
 * long, or the relay cannot listen; nothing is left listening then. A failed `beforeAll` is not
 * followed by `afterAll` (it cleans up after itself; its signal says when time is up); a failed
 * listen is, since `beforeAll` finished. Invalid options (relay options, `startupTimeout`, a
 * missing name) reject with an `InvalidArgumentError`, as `new ExoRelay` does.
 *
 * Given a handler map (`defineService({...})`) instead of a folder, it starts that map as it is,
 * without a `service.yml` to check it against: for tests, and for services built in code. Its
 * name is then the `serviceName` option, or env `SERVICE_NAME`.
 *
 * @example
 * ```ts
 * import { startService } from 'exoservice'
 * import { MockExoCom } from '@exorelay/testing'
 *
 * const exocom = new MockExoCom()
 * const exocomPort = await exocom.listen()
 * const service = await startService(new URL('..', import.meta.url), { exocomPort, port: 0, logger: false })
 * await service.close()
 * await exocom.close()
 * ```
 */
export function startService<M extends MessageMap<M> = AnyMessages>(
  definition: ServiceDefinition<M>,
  options?: StartServiceOptions,
): Promise<RunningService<M>>
export function startService<M extends MessageMap<M> = AnyMessages>(
  folder: string | URL,
  options?: StartServiceOptions,
): Promise<RunningService<M>>
export async function startService<M extends MessageMap<M> = AnyMessages>(
  source: string | URL | ServiceDefinition<M>,
  options: StartServiceOptions = {},
): Promise<RunningService<M>> {
  const { startupTimeout: timeoutOption, signal, ...relayOptions } = options
  signal?.throwIfAborted()
  const env = options.env ?? process.env
  const startupTimeout = checkStartupTimeout(timeoutOption, env.EXOSERVICE_STARTUP_TIMEOUT)
  const fromFolder = typeof source === 'string' || source instanceof URL
  const service = fromFolder
    ? await readServiceFile(source instanceof URL ? fileURLToPath(source) : source)
    : undefined
  const serviceName = options.serviceName ?? (env.SERVICE_NAME || service?.type)
  if (serviceName === undefined || serviceName === '') {
    throw new InvalidArgumentError(
      ErrorCodes.MISSING_OPTION,
      'A service started from a handler map has no service.yml to take its name from: give the serviceName option, or set SERVICE_NAME.',
    )
  }
  const loaded =
    service === undefined
      ? checkDefinition(source, `the handler map of '${serviceName}'`)
      : await loadHandlers(service)
  // The contract service.yml names, else the one `defineService(contract, …)` attached to the
  // map: the relay validates each incoming payload against it.
  const named = service === undefined ? undefined : await loadContract(service)
  const attached = loaded.contract
  const contract = named ?? attached
  // One logger for the relay and the service's own lines, so that both look alike.
  const logger = createBaseLogger(options.logger)
  const relay = new ExoRelay<M>({
    ...relayOptions,
    serviceName,
    logger,
    ...(contract === undefined ? {} : { contract }),
  })
  const log = logger.child({ service: serviceName })
  try {
    relay.registerHandlers(loaded.handlers as never)
  } catch (cause) {
    throw new ExoServiceError(
      ExoServiceErrorCodes.HANDLERS,
      `${loaded.file}: ${(cause as Error).message}`,
      { file: loaded.file, cause },
    )
  }
  for (const warning of loaded.warnings) log.warn({}, warning)
  const conflict =
    named === undefined || attached === undefined ? undefined : howContractsDiffer(named, attached)
  if (conflict !== undefined && service?.contract !== undefined) {
    log.warn(
      { contract: service.contract, handlers: loaded.file },
      `two contracts: ${service.file} names ${relative(service.folder, service.contract)}, and ${loaded.file} gives defineService another (${conflict}). service.yml's wins: the relay validates against it, while the handlers are typed by the other. Give defineService the contract service.yml names (import it from that module), or remove messages.contract.`,
    )
  }
  const context = (signal: AbortSignal): LifecycleContext<M> => ({ relay, log, signal })

  try {
    await runBeforeAll(loaded, startupTimeout, context, signal)
  } catch (error) {
    // The relay never listened; closing it releases its connections to the bus.
    await relay.close()
    throw error
  }
  // beforeAll finished: from here on, a start that does not complete closes what it opened.
  const undo = async (): Promise<void> => {
    await relay.close()
    await runAfterAll(loaded, context(new AbortController().signal)).catch((error: unknown) => {
      log.error({ code: (error as ExoServiceError).code }, (error as Error).message)
    })
  }
  let port: number
  try {
    signal?.throwIfAborted()
    port = await relay.listen()
  } catch (cause) {
    await undo()
    if (signal?.aborted) throw signal.reason
    throw new ExoServiceError(
      ExoServiceErrorCodes.STARTUP,
      `${serviceName}: the relay could not listen: ${(cause as Error).message}`,
      { cause },
    )
  }
  if (signal?.aborted) {
    await undo()
    throw signal.reason
  }
  log.info({ port }, `${DEFAULT_ONLINE_TEXT} ${port}`)

  let closing: Promise<void> | undefined
  return {
    relay,
    port,
    service,
    warnings: loaded.warnings,
    close(closeOptions = {}) {
      closing ??= (async () => {
        try {
          await relay.close()
        } finally {
          await runAfterAll(loaded, context(closeOptions.signal ?? new AbortController().signal))
        }
      })()
      return closing
    },
  }
}

/** The startup timeout from the option, else the environment, else the default. */
function checkStartupTimeout(option: number | undefined, variable: string | undefined): number {
  const fromEnv = option === undefined && variable !== undefined && variable !== ''
  const value = option ?? (fromEnv ? Number(variable) : DEFAULT_STARTUP_TIMEOUT)
  if (!Number.isInteger(value) || value <= 0 || value > MAX_TIMEOUT) {
    const given = fromEnv
      ? `EXOSERVICE_STARTUP_TIMEOUT=${JSON.stringify(variable)}`
      : 'startupTimeout'
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      `${given} must be a positive whole number of milliseconds (at most ${MAX_TIMEOUT}), got ${fromEnv ? JSON.stringify(variable) : String(option)}. Give e.g. 30000.`,
    )
  }
  return value
}

/**
 * Awaits `beforeAll` for at most `timeout` ms. At the deadline its signal aborts and startup
 * fails without waiting for it: a hook that ignores its signal cannot hold the service hostage.
 */
async function runBeforeAll<M extends MessageMap<M>>(
  loaded: LoadedHandlers,
  timeout: number,
  context: (signal: AbortSignal) => LifecycleContext<M>,
  stop: AbortSignal | undefined,
): Promise<void> {
  const beforeAll = loaded.hooks.beforeAll as
    | ((context: LifecycleContext<M>) => unknown)
    | undefined
  if (beforeAll === undefined) return
  stop?.throwIfAborted()
  const controller = new AbortController()
  let timer: ReturnType<typeof setTimeout> | undefined
  let onStop: (() => void) | undefined
  const deadline = new Promise<never>((_, reject) => {
    // A stop (the caller's signal) ends the wait as the timeout does, with the caller's reason.
    onStop = () => {
      controller.abort(stop!.reason)
      reject(stop!.reason)
    }
    stop?.addEventListener('abort', onStop, { once: true })
    timer = setTimeout(() => {
      const error = new ExoServiceError(
        ExoServiceErrorCodes.STARTUP,
        `${loaded.file}: beforeAll did not finish within the startup timeout of ${timeout} ms. Make it finish sooner (await its work with a timeout), or raise the timeout (--startup-timeout, env EXOSERVICE_STARTUP_TIMEOUT, or the startupTimeout option).`,
        { file: loaded.file },
      )
      controller.abort(error)
      reject(error)
    }, timeout)
  })
  try {
    await Promise.race([
      (async () => beforeAll(context(controller.signal)))().catch((cause: unknown) => {
        if (controller.signal.aborted) return
        throw new ExoServiceError(
          ExoServiceErrorCodes.STARTUP,
          `${loaded.file}: beforeAll failed: ${thrownMessage(cause)}. Fix what it reports; the service did not start.`,
          { file: loaded.file, cause },
        )
      }),
      deadline,
    ])
  } finally {
    clearTimeout(timer)
    if (onStop !== undefined) stop?.removeEventListener('abort', onStop)
  }
}

/** Awaits `afterAll`; its failure becomes an `EXOSERVICE_ERR_SHUTDOWN` error naming the module. */
async function runAfterAll<M extends MessageMap<M>>(
  loaded: LoadedHandlers,
  context: LifecycleContext<M>,
): Promise<void> {
  const afterAll = loaded.hooks.afterAll as ((context: LifecycleContext<M>) => unknown) | undefined
  if (afterAll === undefined) return
  try {
    await afterAll(context)
  } catch (cause) {
    throw new ExoServiceError(
      ExoServiceErrorCodes.SHUTDOWN,
      `${loaded.file}: afterAll failed: ${thrownMessage(cause)}. The relay closed; fix what afterAll reports.`,
      { file: loaded.file, cause },
    )
  }
}

/**
 * How two contracts differ, by their shape: the messages only one defines, else a message whose
 * payload, reply outcomes or validator differ. Not by the schemas' identity: the same module,
 * imported twice (tsx's `tsImport`, where tsx is not registered for the process), gives other
 * objects. `undefined` when they have the same shape.
 */
function howContractsDiffer(a: Contract, b: Contract): string | undefined {
  if (a === b) return undefined
  const names = [...new Set([...Object.keys(a.messages), ...Object.keys(b.messages)])].sort()
  const onlyOne = names.filter((name) => !(name in a.messages) || !(name in b.messages))
  if (onlyOne.length > 0) {
    return `messages only one of them defines: ${onlyOne.map((name) => `'${name}'`).join(', ')}`
  }
  const other = names.find((name) => shapeOf(a.messages[name]) !== shapeOf(b.messages[name]))
  return other === undefined ? undefined : `their schemas of '${other}' differ`
}

/** A message's schemas as text: which it has (payload, outcomes) and which validator made each. */
function shapeOf(schemas: Contract['messages'][string] | undefined): string {
  const vendor = (schema: { '~standard': { vendor: string } } | undefined) =>
    schema?.['~standard'].vendor ?? 'none'
  const replies = Object.entries(schemas?.replies ?? {})
    .map(([outcome, schema]) => `${outcome}:${vendor(schema)}`)
    .sort()
  return [vendor(schemas?.payload), ...replies].join(' ')
}
