import type {
  Endpoint,
  ListenInfo,
  Logger,
  OutgoingEnvelope,
  Transport,
  TransportSendOptions,
} from '@exorelay/core'
import { ErrorCodes, InvalidArgumentError } from '@exorelay/core'
import { describeValue } from '@exorelay/core/internal'

/** The package that carries ExoRelay over NATS: an optional peer of `exorelay`. */
export const NATS_TRANSPORT_PACKAGE = '@exorelay/nats-transport'

/** The transports `EXORELAY_TRANSPORT` can name. */
export const TransportKinds = {
  /** ExoCom's HTTP protocol (the default). */
  HTTP: 'http',
  /** A NATS server or cluster, through `@exorelay/nats-transport`. */
  NATS: 'nats',
} as const

export type TransportKind = (typeof TransportKinds)[keyof typeof TransportKinds]

type NatsModule = typeof import('@exorelay/nats-transport')

/** How the NATS package is found and loaded; replaceable in tests. */
export interface NatsModuleLoader {
  /** Throws when the package is not installed. Must not load it. */
  resolve(): void
  load(): Promise<Pick<NatsModule, 'natsTransport'>>
}

const nodeLoader: NatsModuleLoader = {
  resolve() {
    import.meta.resolve(NATS_TRANSPORT_PACKAGE)
  },
  load() {
    return import(NATS_TRANSPORT_PACKAGE)
  },
}

/** The transport `EXORELAY_TRANSPORT` names: `'http'` when unset or empty. */
export function transportKind(env: Record<string, string | undefined>): TransportKind {
  const value = env.EXORELAY_TRANSPORT?.trim().toLowerCase() ?? ''
  if (value === '' || value === TransportKinds.HTTP) return TransportKinds.HTTP
  if (value === TransportKinds.NATS) return TransportKinds.NATS
  // An environment variable, not an option: the sentence names it as such.
  throw new InvalidArgumentError(
    ErrorCodes.INVALID_OPTION,
    `EXORELAY_TRANSPORT must be 'http' or 'nats', got ${describeValue(env.EXORELAY_TRANSPORT)}.`,
  )
}

/**
 * The NATS transport the environment configures: `NATS_URL` (servers, comma-separated) and
 * `NATS_TOKEN` (optional). It is a lazy stand-in: `@exorelay/nats-transport` (and with it
 * the NATS client) is imported on the first `listen` or `send`, so that HTTP services never
 * load it. Throws at once when `NATS_URL` is missing or the package is not installed.
 */
export function natsTransportFromEnv(
  env: Record<string, string | undefined>,
  logger: Logger,
  loader: NatsModuleLoader = nodeLoader,
): Transport {
  const servers = (env.NATS_URL ?? '')
    .split(',')
    .map((server) => server.trim())
    .filter((server) => server !== '')
  if (servers.length === 0) {
    throw new InvalidArgumentError(
      ErrorCodes.MISSING_OPTION,
      "ExoRelay needs the NATS_URL environment variable (e.g. 'nats://127.0.0.1:4222') when EXORELAY_TRANSPORT is 'nats'.",
    )
  }
  try {
    loader.resolve()
  } catch (cause) {
    throw missingPackage(cause)
  }
  const token = env.NATS_TOKEN?.trim()
  return new LazyTransport(async () => {
    let nats: Pick<NatsModule, 'natsTransport'>
    try {
      nats = await loader.load()
    } catch (cause) {
      throw missingPackage(cause)
    }
    return nats.natsTransport({
      servers,
      logger,
      ...(token !== undefined && token !== '' && { token }),
    })
  })
}

function missingPackage(cause: unknown): InvalidArgumentError {
  return new InvalidArgumentError(
    ErrorCodes.INVALID_OPTION,
    `EXORELAY_TRANSPORT is 'nats' but '${NATS_TRANSPORT_PACKAGE}' cannot be loaded: install it with \`npm install ${NATS_TRANSPORT_PACKAGE}\`.`,
    { cause },
  )
}

/**
 * A transport that creates the real one on first use. Until then it holds nothing: closing
 * it before any use loads nothing either.
 */
export class LazyTransport implements Transport {
  readonly #create: () => Promise<Transport>
  #transport: Transport | undefined
  #creating: Promise<Transport> | undefined

  constructor(create: () => Promise<Transport>) {
    this.#create = create
  }

  async listen(endpoint: Endpoint): Promise<ListenInfo> {
    return (await this.#get()).listen(endpoint)
  }

  send(envelope: OutgoingEnvelope, options: TransportSendOptions): Promise<void> {
    if (this.#transport !== undefined) return this.#transport.send(envelope, options)
    return this.#get().then((transport) => transport.send(envelope, options))
  }

  handlersChanged(): void {
    this.#transport?.handlersChanged?.()
  }

  async drain(): Promise<void> {
    const transport = await this.#settled()
    await transport?.drain?.()
  }

  async close(): Promise<void> {
    const transport = await this.#settled()
    await transport?.close()
  }

  #get(): Promise<Transport> {
    this.#creating ??= this.#create().then(
      (transport) => {
        this.#transport = transport
        return transport
      },
      (error: unknown) => {
        // A later use tries again (the package may have been installed meanwhile).
        this.#creating = undefined
        throw error
      },
    )
    return this.#creating
  }

  /** The real transport if one was made (or is being made), without making one. */
  #settled(): Promise<Transport | undefined> {
    return this.#creating?.catch(() => undefined) ?? Promise.resolve(this.#transport)
  }
}
