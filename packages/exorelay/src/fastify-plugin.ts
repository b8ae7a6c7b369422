import type { AnyMessages, MessageMap } from '@exorelay/core'
import { ErrorCodes, InvalidArgumentError } from '@exorelay/core'
import type { FastifyPluginAsync } from 'fastify'
import fastifyPlugin from 'fastify-plugin'
import { ExoRelay, type ExoRelayOptions } from './exo-relay.js'

/**
 * Where an application declares its message map once, for `app.exorelay` (and
 * {@link RegisteredMessages}), the way TanStack Router and tRPC let an app register its router:
 * a declaration merged into this interface types every use at once, without a type argument at
 * each call. Without one, `app.exorelay` takes any name, payload and reply.
 *
 * @example
 * ```ts
 * type Messages = {
 *   'users.create': { payload: { name: string }; replies: { 'users.created': { id: number } } }
 * }
 * declare module 'exorelay' {
 *   interface Register {
 *     messages: Messages
 *   }
 * }
 * ```
 */
// biome-ignore lint/suspicious/noEmptyInterface: an interface, so that applications can merge into it.
export interface Register {}

/** The message map declared in {@link Register}, or `AnyMessages` when none is. */
export type RegisteredMessages = Register extends { messages: infer M extends MessageMap<M> }
  ? M
  : AnyMessages

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The relay the `exorelay` plugin created in this app: it goes online when the app
     * listens and closes when the app closes. Typed by the message map of `Register`.
     */
    exorelay: ExoRelay<RegisteredMessages>
  }
}

/**
 * The options of `new ExoRelay()` that a relay served from an app has no use for, as the app's
 * server binds and runs it, each with where to set it instead.
 */
const ownedByTheApp = {
  fastify:
    "the plugin mounts the relay in the app it is registered in. Leave 'fastify' out of the plugin's options, or create the relay with new ExoRelay({ fastify: app }) instead of registering the plugin",
  port: "the app's port is the relay's. Leave 'port' out of the plugin's options and give it to app.listen({ port })",
  host: "the app's server binds the address. Leave 'host' out of the plugin's options and give it to app.listen({ host }); the address the bus delivers to is the 'advertisedHost' option",
  requestTimeout:
    "the app's server owns its timeouts. Leave 'requestTimeout' out of the plugin's options and set Fastify's own: Fastify({ requestTimeout })",
  maxConnections:
    "the app's server owns its connections. Leave 'maxConnections' out of the plugin's options and set app.server.maxConnections",
} as const satisfies Record<Exclude<keyof ExoRelayOptions, keyof ExoRelayPluginOptions>, string>

/**
 * The options of {@link exorelayPlugin}: those of `new ExoRelay()`, without those the app's
 * server owns when it serves the relay: `fastify` (the plugin mounts the relay in the app it is
 * registered in), `port` and `host` (`app.listen({ port, host })`), `requestTimeout`
 * (`Fastify({ requestTimeout })`) and `maxConnections` (`app.server.maxConnections`); given
 * anyway, they fail the app's start with `EXORELAY_ERR_ARG_INVALID_OPTION`. `logger` defaults
 * to the app's logger (`app.log`), as for any Fastify plugin.
 */
export type ExoRelayPluginOptions = Omit<
  // Any contract: the app's relay is typed by `Register`, not by the options.
  ExoRelayOptions<any>,
  'fastify' | 'port' | 'host' | 'requestTimeout' | 'maxConnections'
>

const exorelay: FastifyPluginAsync<ExoRelayPluginOptions> = async (app, options) => {
  for (const [name, why] of Object.entries(ownedByTheApp)) {
    if ((options as Record<string, unknown>)[name] !== undefined) {
      throw new InvalidArgumentError(
        ErrorCodes.INVALID_OPTION,
        `The exorelay plugin got a '${name}' option, but ${why}.`,
      )
    }
  }
  // A second relay with the HTTP transport fails where its routes would be added, in
  // HttpTransport; this one catches any transport, as only one relay can be `app.exorelay`.
  if (app.hasDecorator('exorelay')) {
    throw new InvalidArgumentError(
      ErrorCodes.DUPLICATE_RELAY,
      "The exorelay plugin is registered twice in one Fastify app, which serves one relay. Register it once, at the app's root (its relay is app.exorelay everywhere in the app); for a second service, start a second app.",
    )
  }
  // What `app.register` passes besides (`prefix`, `logLevel`) the relay ignores, as it ignores
  // any option it does not know.
  const relay = new ExoRelay<RegisteredMessages>({ logger: app.log, ...options, fastify: app })
  app.decorate('exorelay', relay)
}

/**
 * The Fastify plugin of ExoRelay: `app.register(exorelayPlugin, options)` creates a relay
 * served from the app (the app's port is the relay's), decorates the app with it as
 * `app.exorelay`, brings it online (registered with the bus) once `app.listen()` has bound the
 * port, and closes it gracefully with `app.close()`: it withdraws from the bus and lets running
 * handlers finish. The options are `new ExoRelay()`'s without those the app's server owns
 * ({@link ExoRelayPluginOptions}). Registered twice in one app, or beside
 * `new ExoRelay({ fastify: app })`, it fails the app's start with
 * `EXORELAY_ERR_ARG_DUPLICATE_RELAY`.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { exorelayPlugin } from 'exorelay'
 *
 * const app = Fastify({ logger: true })
 * await app.register(exorelayPlugin, { serviceName: 'web' }) // EXOCOM_PORT from the environment
 * app.post('/users', async (request) => app.exorelay.send('users.create', request.body))
 * await app.listen({ port: 3000 })
 * ```
 */
export const exorelayPlugin: FastifyPluginAsync<ExoRelayPluginOptions> = fastifyPlugin(exorelay, {
  name: 'exorelay',
  fastify: '5.x',
})
