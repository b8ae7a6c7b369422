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
 * The options of {@link exorelayPlugin}: those of `new ExoRelay()`, without `fastify` (the
 * plugin mounts the relay in the app it is registered in). `logger` defaults to the app's
 * logger (`app.log`), as for any Fastify plugin.
 */
export type ExoRelayPluginOptions = Omit<ExoRelayOptions, 'fastify'>

// The servers that already serve a relay: a second one in the same server (the plugin
// registered twice, in one context or in two) would claim the same routes.
const serving = new WeakSet<object>()

const exorelay: FastifyPluginAsync<ExoRelayPluginOptions> = async (app, options) => {
  if ((options as ExoRelayOptions).fastify !== undefined) {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      "The exorelay plugin got a 'fastify' option, but it mounts the relay in the app it is registered in. Leave 'fastify' out of the plugin's options, or create the relay with new ExoRelay({ fastify: app }) instead of registering the plugin.",
    )
  }
  if (app.hasDecorator('exorelay') || serving.has(app.server)) {
    throw new InvalidArgumentError(
      ErrorCodes.DUPLICATE_RELAY,
      "The exorelay plugin is registered twice in one Fastify app, which serves one relay. Register it once, at the app's root (its relay is app.exorelay everywhere in the app); for a second service, start a second app.",
    )
  }
  // What `app.register` passes besides (`prefix`, `logLevel`) the relay ignores, as it ignores
  // any option it does not know.
  const relay = new ExoRelay<RegisteredMessages>({ logger: app.log, ...options, fastify: app })
  serving.add(app.server)
  app.decorate('exorelay', relay)
}

/**
 * The Fastify plugin of ExoRelay: `app.register(exorelayPlugin, options)` creates a relay
 * served from the app (the app's port is the relay's), decorates the app with it as
 * `app.exorelay`, brings it online (registered with the bus) once `app.listen()` has bound the
 * port, and closes it gracefully with `app.close()`: it withdraws from the bus and lets running
 * handlers finish. The options are `new ExoRelay()`'s without `fastify`. Registered twice in one
 * app, it fails the app's start with `EXORELAY_ERR_ARG_DUPLICATE_RELAY`.
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
