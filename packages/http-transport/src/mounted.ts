import { once } from 'node:events'
import { ErrorCodes, InvalidArgumentError, ListenError } from '@exorelay/core'
import type { FastifyInstance } from 'fastify'

/** What `mountRelay` drives: a relay, or anything that goes online and closes like one. */
export interface Mountable {
  /**
   * Goes online; called once the app listens. Reports its own failure (a relay logs one line
   * and emits `error`): the app's start does not fail for it.
   */
  listen(): Promise<unknown>
  /** Closes; called when the app closes. */
  close(): Promise<void>
}

/**
 * Lets a Fastify app drive a relay served from it: the relay goes online when the app listens
 * and closes when the app closes. The one `onListen` hook of a mounted relay: the transport's
 * own `listen()` waits for the app's server rather than for a hook, so no order of hooks
 * matters. Used by `exorelay` also when the environment chose another transport.
 *
 * The relay closes in `preClose`, while the app's server still runs: it withdraws from the bus
 * before the server stops taking connections, so the bus stops routing here first, and its
 * running handlers finish before the app's `onClose` hooks release what they may use (database
 * pools and the like). `onClose` closes it too (the same promise), for an app closed before it
 * was ever ready, which runs no `preClose`.
 *
 * @example
 * ```ts
 * const app = Fastify()
 * const relay = new Relay({ serviceName: 'web', transport: new HttpTransport({ fastify: app, … }) })
 * mountRelay(app, relay)
 * await app.listen({ port: 3000 })
 * ```
 */
export function mountRelay(app: FastifyInstance, relay: Mountable): void {
  app.addHook('onListen', async () => {
    // The relay already logged its failure in one line and emitted it: rejecting here would
    // make Fastify log it a second time, with a stack. The app serves on; the relay stays
    // offline, and its sends say why.
    await relay.listen().catch(() => {})
  })
  app.addHook('preClose', async () => {
    // An app that never listened has no relay online to withdraw, and a `relay.listen()`
    // called early still waits for the port: it gives up when the server closes, after
    // `preClose`, so closing the relay here would wait for ever.
    if (app.server.listening) await relay.close()
  })
  app.addHook('onClose', async () => {
    await relay.close()
  })
}

// The servers that already serve a relay's routes: a second relay in the same server (the
// plugin registered twice, or beside `new ExoRelay({ fastify: app })`, in one context or in
// two) would claim the same routes.
const serving = new WeakSet<object>()

/**
 * Claims the app's server for one relay's routes, before they are added, so that a second
 * relay in it fails at once with a coded error rather than later with Fastify's duplicate route.
 */
export function claimApp(app: FastifyInstance): void {
  if (serving.has(app.server)) {
    throw new InvalidArgumentError(
      ErrorCodes.DUPLICATE_RELAY,
      "A second relay is mounted in one Fastify app (the exorelay plugin registered twice, or beside new ExoRelay({ fastify: app })), but one app serves one relay. Mount one relay per app: register the plugin once, at the app's root (its relay is app.exorelay everywhere in the app), or create one new ExoRelay({ fastify: app }); for a second service, start a second app.",
    )
  }
  serving.add(app.server)
}

/**
 * The port the app's server is bound to, once it is. Rejects when the server fails to bind
 * (its `error`) or closes first, so that a relay waiting for it can still close.
 */
export async function onceListening(app: FastifyInstance): Promise<number> {
  if (!app.server.listening) {
    const closed = new AbortController()
    try {
      await Promise.race([
        once(app.server, 'listening', { signal: closed.signal }),
        once(app.server, 'close', { signal: closed.signal }).then(() => {
          throw new ListenError(
            ErrorCodes.LISTEN_FAILED,
            'The Fastify app closed before it listened, so the relay mounted in it never went online. Call app.listen() before app.close().',
          )
        }),
      ])
    } finally {
      closed.abort()
    }
  }
  const address = app.server.address()
  return typeof address === 'object' && address !== null ? address.port : 0
}
