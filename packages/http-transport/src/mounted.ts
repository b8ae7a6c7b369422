import { once } from 'node:events'
import { ErrorCodes, ListenError } from '@exorelay/core'
import type { FastifyInstance } from 'fastify'

/** What `mountRelay` drives: a relay, or anything that goes online and closes like one. */
export interface Mountable {
  /** Goes online; called once the app listens. */
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
    await relay.listen()
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
