import assert from 'node:assert/strict'
import { once } from 'node:events'
import { describe, type TestContext, test } from 'node:test'
import type { ReceivedMessage, Relay } from '@exorelay/core'
import { ErrorCodes } from '@exorelay/core'
import { deferred, withDeadline } from './deadline.js'

/** Relay settings a scenario needs to choose; everything else is the setup's business. */
export interface ScenarioRelayOptions {
  /** Default reply timeout of the relay's sends, in milliseconds. */
  timeout?: number
  /** Milliseconds `close()` lets running handlers finish. */
  closeTimeout?: number
}

/** One scenario's world: a way to make relays on the transport under test, and its teardown. */
export interface TransportScenarioSetup {
  /**
   * A new relay for `serviceName` on the transport under test, not listening yet. The suite
   * registers handlers, listens and closes it.
   */
  relay(serviceName: string, options?: ScenarioRelayOptions): Relay
  /** Releases the bus or servers the setup started; runs after the suite closed every relay. */
  cleanup(): Promise<void>
}

/** What differs between transports by design; each flag says which way a scenario asserts. */
export interface TransportCapabilities {
  /**
   * Receivers see the `sender` of each message. NATS carries it; ExoCom drops it on delivery,
   * as the original bus did, so over HTTP `ctx.sender` and `reply.sender` are `undefined`.
   */
  forwardsSender: boolean
}

const DEFAULT_CAPABILITIES: TransportCapabilities = { forwardsSender: false }
/** Each scenario settles in well under a second; this only bounds a broken transport. */
const SCENARIO_TIMEOUT = 20_000
/** How long a scenario waits for one thing to happen: well inside {@link SCENARIO_TIMEOUT}. */
const WAIT = 10_000

/**
 * The behaviour every transport must show through a relay, as one `node:test` suite: request
 * and reply, whole-reply envelopes, fire-and-forget, several outcomes, deadlines, aborts,
 * error replies, missing receivers, nested requests and graceful close. `setup` runs once per
 * scenario; relays made through it are closed after the scenario, then `cleanup` runs.
 *
 * @example
 * ```ts
 * import { startExoCom } from '@exorelay/exocom'
 * import { describeTransportScenarios } from '@exorelay/testing'
 * import { ExoRelay } from 'exorelay'
 *
 * describeTransportScenarios('HTTP through ExoCom', async () => {
 *   const bus = await startExoCom({ port: 0, logger: false })
 *   return {
 *     relay: (serviceName, options) =>
 *       new ExoRelay({ serviceName, exocomPort: bus.port, port: 0, logger: false, ...options }),
 *     cleanup: () => bus.close(),
 *   }
 * })
 * ```
 */
export function describeTransportScenarios(
  title: string,
  setup: () => TransportScenarioSetup | Promise<TransportScenarioSetup>,
  capabilities: Partial<TransportCapabilities> = {},
): void {
  const can: TransportCapabilities = { ...DEFAULT_CAPABILITIES, ...capabilities }

  /** Starts a scenario: relays made through the returned factory are closed when it ends. */
  async function world(
    t: TestContext,
  ): Promise<(serviceName: string, options?: ScenarioRelayOptions) => Relay> {
    const made = await setup()
    const relays: Relay[] = []
    t.after(async () => {
      await Promise.all(relays.map((relay) => relay.close()))
      await made.cleanup()
    })
    return (serviceName, options) => {
      const relay = made.relay(serviceName, options)
      relays.push(relay)
      return relay
    }
  }

  const scenario = (name: string, fn: (t: TestContext) => Promise<void>): void => {
    test(name, { timeout: SCENARIO_TIMEOUT }, fn)
  }

  describe(title, () => {
    scenario('a request is answered and the reply payload awaited', async (t) => {
      const relay = await world(t)
      const users = relay('users')
      const web = relay('web')
      users.registerHandler('users.create', (user, { reply }) =>
        reply('users.created', { id: 1, name: user.name }),
      )
      await listen(users, web)

      assert.deepEqual(await web.send('users.create', { name: 'Will' }), { id: 1, name: 'Will' })
      assert.equal(web.pendingReplies, 0)
    })

    scenario(
      '.envelope() gives the whole reply, and handlers see the message metadata',
      async (t) => {
        const relay = await world(t)
        const users = relay('users')
        const web = relay('web')
        const seen = deferred<{ name: string; id: string; responseTo: unknown; sender: unknown }>()
        users.registerHandler('users.create', (_user, context) => {
          const { name, id, responseTo, sender } = context
          seen.resolve({ name, id, responseTo, sender })
          return context.reply('users.created', 'done')
        })
        await listen(users, web)

        const sent = web.send('users.create', { name: 'Will' })
        const reply: ReceivedMessage = await sent.envelope()

        assert.equal(reply.name, 'users.created')
        assert.equal(reply.responseTo, sent.id)
        assert.equal(typeof reply.id, 'string')
        assert.notEqual(reply.id, sent.id)
        assert.equal(reply.payload, 'done')
        assert.equal(reply.sender, can.forwardsSender ? 'users' : undefined)
        assert.deepEqual(await arrival(seen.promise, 'users.create was not handled'), {
          name: 'users.create',
          id: sent.id,
          responseTo: undefined,
          sender: can.forwardsSender ? 'web' : undefined,
        })
      },
    )

    scenario("a request's deadline reaches its handler and the handler's own sends", async (t) => {
      const relay = await world(t)
      const users = relay('users')
      const passwords = relay('passwords')
      const web = relay('web')
      const atUsers = deferred<{ aborted: unknown; nested: unknown }>()
      passwords.registerHandler('passwords.encrypt', () => {
        // Never answers: the nested send ends at the deadline it inherited.
      })
      users.registerHandler('users.create', async (_user, context) => {
        const nested = await context.send('passwords.encrypt', 'secret').then(
          () => undefined,
          (error: unknown) => error,
        )
        if (!context.signal.aborted) await once(context.signal, 'abort')
        atUsers.resolve({ aborted: context.signal.reason, nested })
      })
      await listen(users, passwords, web)

      await assert.rejects(web.send('users.create', {}, { timeout: 300 }), {
        code: ErrorCodes.TIMEOUT,
      })
      const { aborted, nested } = await arrival(atUsers.promise, 'users.create was not handled')

      // Both at the caller's deadline, not at the relays' 10-second default: the deadline each
      // error carries says so, with no wall-clock figure to flake.
      assert.equal((nested as { code?: unknown }).code, ErrorCodes.TIMEOUT)
      assert.ok((nested as { timeout: number }).timeout <= 300)
      assert.equal((aborted as { code?: unknown }).code, ErrorCodes.TIMEOUT)
      assert.ok((aborted as { timeout: number }).timeout <= 300)
    })

    scenario('a caller that aborts its send cancels the running handler', async (t) => {
      const relay = await world(t)
      const users = relay('users')
      const web = relay('web')
      const started = deferred<void>()
      const stopped = deferred<unknown>()
      users.registerHandler('users.create', async (_user, context) => {
        started.resolve()
        if (!context.signal.aborted) await once(context.signal, 'abort')
        stopped.resolve(context.signal.reason)
      })
      await listen(users, web)

      const controller = new AbortController()
      const sent = web.send('users.create', {}, { timeout: 60_000, signal: controller.signal })
      await arrival(started.promise, 'users.create did not start')
      controller.abort()
      await assert.rejects(sent, { code: ErrorCodes.ABORTED })

      assert.match(
        String(await arrival(stopped.promise, 'the handler was not cancelled')),
        /The caller cancelled 'users\.create'/,
      )
    })

    scenario('payloads of every kind arrive as sent, and no payload stays absent', async (t) => {
      const relay = await world(t)
      const echo = relay('echo')
      const web = relay('web')
      echo.registerHandler('echo', (payload, { reply }) =>
        reply('echoed', { had: payload !== undefined, payload }),
      )
      await listen(echo, web)

      for (const payload of ['world', '', 0, false, [], {}, [1, 2, 3], { name: 'Will' }]) {
        assert.deepEqual(await web.send('echo', payload), { had: true, payload })
      }
      assert.deepEqual(await web.send('echo'), { had: false })
      assert.deepEqual(await web.send('echo', null), { had: false })
    })

    scenario(
      'fire-and-forget with { reply: false } resolves once accepted and holds nothing',
      async (t) => {
        const relay = await world(t)
        const greeter = relay('greeter')
        const web = relay('web')
        const greeted = deferred<unknown>()
        greeter.registerHandler('hello', (payload) => {
          greeted.resolve(payload)
        })
        await listen(greeter, web)

        const accepted = web.send('hello', { name: 'world' }, { reply: false })
        assert.equal(web.pendingReplies, 0)
        assert.equal(await accepted, undefined)
        assert.deepEqual(await arrival(greeted.promise, 'hello did not arrive'), { name: 'world' })
      },
    )

    scenario('a callback gets several outcomes until end()', async (t) => {
      const relay = await world(t)
      const importer = relay('importer')
      const web = relay('web')
      importer.registerHandler('users.import', async (_payload, { reply }) => {
        await reply('users.progress', 50)
        await reply('users.progress', 100)
        await reply('users.imported', { count: 2 })
      })
      await listen(importer, web)

      const outcomes: Array<[string, unknown]> = []
      const finished = web.send(
        'users.import',
        null,
        (payload, { outcome, end }) => {
          outcomes.push([outcome, payload])
          if (outcomes.length === 3) end()
        },
        { timeout: 10_000 },
      )

      assert.equal(await finished, undefined)
      // Separate messages may overtake each other on some buses: compare as a set.
      assert.deepEqual(outcomes.sort(byJson), [
        ['users.imported', { count: 2 }],
        ['users.progress', 100],
        ['users.progress', 50],
      ])
      assert.equal(web.pendingReplies, 0)
    })

    scenario('a request nobody answers rejects with TIMEOUT at its deadline', async (t) => {
      const relay = await world(t)
      const users = relay('users')
      const web = relay('web')
      const received = deferred<void>()
      users.registerHandler('users.create', () => {
        received.resolve()
      })
      await listen(users, web)

      const sent = web.send('users.create', { name: 'Will' }, { timeout: 300 })
      await arrival(received.promise, 'users.create did not arrive')
      await assert.rejects(sent, { code: ErrorCodes.TIMEOUT })
      assert.equal(web.pendingReplies, 0)
    })

    scenario('an aborted request rejects with ABORTED', async (t) => {
      const relay = await world(t)
      const users = relay('users')
      const web = relay('web')
      const received = deferred<void>()
      users.registerHandler('users.create', () => {
        received.resolve()
      })
      await listen(users, web)

      const controller = new AbortController()
      const sent = web.send('users.create', {}, { signal: controller.signal, timeout: 60_000 })
      await arrival(received.promise, 'users.create did not arrive')
      controller.abort()
      await assert.rejects(sent, { code: ErrorCodes.ABORTED })
      assert.equal(web.pendingReplies, 0)
    })

    scenario('a failing handler rejects the request with its code, sync or async', async (t) => {
      const relay = await world(t)
      const users = relay('users')
      const web = relay('web')
      const duplicate = (name: string): Error =>
        Object.assign(new Error(`${name} exists already.`), {
          code: 'USERS_DUPLICATE',
          data: { name },
        })
      users.registerHandler('users.create', (user) => {
        throw duplicate(user.name)
      })
      users.registerHandler('users.import', async (user) => {
        await Promise.resolve()
        throw duplicate(user.name)
      })
      await listen(users, web)

      for (const name of ['users.create', 'users.import']) {
        await assert.rejects(web.send(name, { name: 'Will' }, { timeout: 60_000 }), {
          code: ErrorCodes.REMOTE_HANDLER_FAILED,
          remoteCode: 'USERS_DUPLICATE',
          data: { name: 'Will' },
        })
      }
    })

    scenario(
      'a failed handler rejects the send with an error naming the message and the service, its stack at the send line',
      async (t) => {
        const relay = await world(t)
        const users = relay('users')
        const web = relay('web')
        users.registerHandler('users.create', () => {
          throw new Error('handler exploded')
        })
        await listen(users, web)

        const sent = web.send('users.create', {}, { timeout: 60_000 })
        await assert.rejects(sent, (error: Error) => {
          assert.equal(
            error.message,
            "The handler of 'users.create' in service 'users' failed: handler exploded",
          )
          assert.match(firstFrame(error), SCENARIOS_FILE)
          return true
        })
      },
    )

    scenario('a message nobody receives rejects with NO_RECEIVER at once', async (t) => {
      const relay = await world(t)
      const web = relay('web')
      await listen(web)

      // No deadline: only the bus saying "nobody receives this" can settle it.
      const sent = web.send('nobody.handles.this', {}, { timeout: Number.POSITIVE_INFINITY })
      await assert.rejects(sent, (error: Error & { code?: string }) => {
        assert.equal(error.code, ErrorCodes.NO_RECEIVER)
        // One sentence, then where to look and why.
        assert.match(error.message, /^No service receives the message 'nobody\.handles\.this'/)
        assert.equal(error.message.match(/No service receives/g)?.length, 1, error.message)
        assert.match(
          error.message,
          /may not be running or not registered yet, or registers no handler for 'nobody\.handles\.this'\.$/,
        )
        assert.match(firstFrame(error), SCENARIOS_FILE)
        return true
      })
      const oneWay = web.send('nobody.handles.this', {}, { reply: false })
      await assert.rejects(oneWay, (error: Error & { code?: string }) => {
        assert.equal(error.code, ErrorCodes.NO_RECEIVER)
        assert.match(firstFrame(error), SCENARIOS_FILE)
        return true
      })
    })

    scenario(
      'a request from a relay that is not listening rejects at once with NOT_LISTENING and is not sent',
      async (t) => {
        const relay = await world(t)
        const users = relay('users')
        const web = relay('web')
        let created = 0
        const touched = deferred<void>()
        users.registerHandler('users.create', () => {
          created++
        })
        users.registerHandler('users.touch', () => touched.resolve())
        await listen(users)

        // No deadline: only the relay itself can settle it at once.
        const sent = web.send('users.create', {}, { timeout: Number.POSITIVE_INFINITY })
        await assert.rejects(sent, (error: Error & { code?: string }) => {
          assert.equal(error.code, ErrorCodes.NOT_LISTENING)
          assert.equal(
            error.message,
            "The relay 'web' is not listening, so no reply to 'users.create' can reach it: call `await relay.listen()` first (when mounted in a Fastify app: `await app.listen()`), or send with { reply: false } if no reply is wanted.",
          )
          assert.match(firstFrame(error), SCENARIOS_FILE)
          return true
        })
        // A one-way message needs no listener: it goes, and arrives after where the request
        // would have.
        await web.send('users.touch', {}, { reply: false })
        await arrival(touched.promise, 'users.touch did not arrive')
        assert.equal(created, 0)
        assert.equal(web.pendingReplies, 0)
      },
    )

    scenario(
      'a relay that sent a one-way message before listen() receives messages once it listens',
      async (t) => {
        const relay = await world(t)
        const users = relay('users')
        const web = relay('web')
        const touched = deferred<void>()
        users.registerHandler('users.touch', () => touched.resolve())
        web.registerHandler('web.ping', (count, { reply }) => reply('web.pong', count))
        await listen(users)

        // The send comes first: a transport that connects on demand (NATS) connects for it,
        // and listen() must still subscribe to what the relay handles.
        await web.send('users.touch', {}, { reply: false })
        await arrival(touched.promise, 'users.touch did not arrive')
        await listen(web)

        assert.equal(await users.send('web.ping', 1, { timeout: WAIT }), 1)
      },
    )

    scenario('a handler sends a request of its own and replies with its result', async (t) => {
      const relay = await world(t)
      const web = relay('web')
      const users = relay('users')
      const passwords = relay('passwords')
      passwords.registerHandler('passwords.encrypt', (password, { reply }) =>
        reply('passwords.encrypted', `hash(${password})`),
      )
      users.registerHandler('users.create', async (user, { send, reply }) => {
        const hash = await send('passwords.encrypt', user.password)
        await reply('users.created', { name: user.name, hash })
      })
      await listen(web, users, passwords)

      assert.deepEqual(await web.send('users.create', { name: 'Will', password: 'secret' }), {
        name: 'Will',
        hash: 'hash(secret)',
      })
    })

    scenario('closing the requester rejects its pending send with CLOSED', async (t) => {
      const relay = await world(t)
      const users = relay('users')
      const web = relay('web')
      const received = deferred<void>()
      users.registerHandler('users.create', () => {
        received.resolve()
      })
      await listen(users, web)

      const sent = web.send('users.create', {}, { timeout: 60_000 })
      await arrival(received.promise, 'users.create did not arrive')
      await web.close()
      await assert.rejects(sent, { code: ErrorCodes.CLOSED })
    })

    scenario('graceful close lets a running handler finish, and its reply arrives', async (t) => {
      const relay = await world(t)
      const users = relay('users', { closeTimeout: 10_000 })
      const web = relay('web')
      const started = deferred<void>()
      const release = deferred<void>()
      users.registerHandler('users.create', async (user, { reply }) => {
        started.resolve()
        await release.promise
        await reply('users.created', user)
      })
      await listen(users, web)

      const sent = web.send('users.create', { name: 'Will' }, { timeout: 60_000 })
      await arrival(started.promise, 'users.create did not start')
      const closed = users.close()
      release.resolve()

      assert.deepEqual(await sent, { name: 'Will' })
      await closed
      assert.equal(users.online, false)
      // Closed means withdrawn: new requests find nobody instead of a dead end.
      await assert.rejects(web.send('users.create', {}, { timeout: Number.POSITIVE_INFINITY }), {
        code: ErrorCodes.NO_RECEIVER,
      })
    })
  })
}

/** Where the scenarios call `send`: a send's error points there, not into the relay. */
const SCENARIOS_FILE = /transport-scenarios\.[jt]s:\d+/

/**
 * The first frame of `error`'s stack outside Node.js itself: with the relay's default
 * `stackTraces: 'await'`, the frames of the code awaiting the send, which under
 * `assert.rejects` start inside node:assert.
 */
function firstFrame(error: Error): string {
  return (
    error.stack
      ?.split('\n')
      .slice(1)
      .find((frame) => !frame.includes('(node:')) ?? ''
  )
}

/** `promise`, or a failure saying `what` did not happen: no wait of a scenario can hang. */
function arrival<T>(promise: Promise<T>, what: string): Promise<T> {
  return withDeadline(promise, WAIT, () => what)
}

async function listen(...relays: Relay[]): Promise<void> {
  await Promise.all(relays.map((relay) => relay.listen()))
}

function byJson(a: unknown, b: unknown): number {
  return JSON.stringify(a) < JSON.stringify(b) ? -1 : 1
}
