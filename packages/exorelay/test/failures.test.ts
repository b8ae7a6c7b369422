import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type ExoCom, startExoCom } from '@exorelay/exocom'
import { MockExoCom } from '@exorelay/testing'
import { pino } from 'pino'
import {
  ErrorCodes,
  ExoRelay,
  type ExoRelayError,
  type ExoRelayOptions,
  isExoRelayError,
  type RemoteHandlerError,
} from '../src/index.js'

type After = { after: (fn: () => Promise<unknown>) => void }

/** A bus and relays on free ports, closed after the test (relays first, then the bus). */
async function landscape(t: After, busOptions: { token?: string } = {}) {
  const bus = await startExoCom({ port: 0, logger: false, ...busOptions })
  const relays: ExoRelay[] = []
  const relay = (serviceName: string, options: Partial<ExoRelayOptions> = {}) => {
    const created = new ExoRelay({
      serviceName,
      exocomPort: bus.port,
      port: 0,
      logger: false,
      ...options,
    })
    relays.push(created)
    return created
  }
  t.after(async () => {
    await Promise.all(relays.map((r) => r.close()))
    await bus.close()
  })
  return { bus, relay }
}

/**
 * A pino logger whose lines a test can wait for: `logged(match)` rejects naming the latest
 * lines when no line matches within `timeout` ms.
 */
function recordingLogger() {
  const waiters: { match: (msg: string) => boolean; resolve: () => void }[] = []
  const seen: string[] = []
  const stream = {
    write(line: string) {
      const { msg } = JSON.parse(line) as { msg: string }
      seen.push(msg)
      for (const waiter of waiters.filter((w) => w.match(msg))) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve()
      }
    },
  }
  return {
    logger: pino({ level: 'info' }, stream),
    logged: (match: (msg: string) => boolean, timeout = 10_000) =>
      new Promise<void>((resolve, reject) => {
        const waiter = {
          match,
          resolve: () => {
            clearTimeout(timer)
            resolve()
          },
        }
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1)
          const last = seen.slice(-5).join(' | ') || 'none'
          reject(new Error(`logged: no log line matched within ${timeout} ms; last lines: ${last}`))
        }, timeout)
        // Only a guard: it must never keep the test process alive by itself.
        timer.unref()
        waiters.push(waiter)
      }),
  }
}

/** A promise with its resolve function, to hold a handler until the test lets it go. */
function deferred<T = void>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((res) => {
    resolve = res
  })
  return { promise, resolve }
}

describe('errors that cross the wire', () => {
  test('a coded error thrown by a handler reaches the requester promptly, with its code and data', async (t) => {
    const { relay } = await landscape(t)
    const users = relay('users')
    const web = relay('web')
    users.registerHandler('users.create', () => {
      throw Object.assign(new Error('Will Riker exists already.'), {
        code: 'USERS_DUPLICATE',
        data: { name: 'Will Riker' },
      })
    })
    await Promise.all([users.listen(), web.listen()])

    // A minute-long deadline: only an error reply can end this send quickly.
    await assert.rejects(
      web.send('users.create', { name: 'Will Riker' }, { timeout: 60_000 }),
      (error: RemoteHandlerError) => {
        assert.equal(error.code, ErrorCodes.REMOTE_HANDLER_FAILED)
        assert.equal(error.remoteCode, 'USERS_DUPLICATE')
        assert.deepEqual(error.data, { name: 'Will Riker' })
        assert.match(error.message, /Will Riker exists already/)
        assert.doesNotMatch(error.message, /at .*\.ts:\d+/, 'no stack crosses the wire')
        return true
      },
    )
    assert.equal(web.pendingReplies, 0)
  })

  test('an async handler that rejects answers with an error reply too', async (t) => {
    const { relay } = await landscape(t)
    const users = relay('users')
    const web = relay('web')
    users.registerHandler('users.create', async () => {
      await Promise.resolve()
      throw new Error('database down')
    })
    await Promise.all([users.listen(), web.listen()])

    await assert.rejects(
      web.send('users.create', {}, { timeout: 60_000 }),
      (error: RemoteHandlerError) => {
        assert.equal(error.code, ErrorCodes.REMOTE_HANDLER_FAILED)
        assert.equal(error.remoteCode, ErrorCodes.HANDLER_FAILED)
        assert.match(error.message, /database down/)
        return true
      },
    )
  })

  test('through a bus that does not route error replies, the requester times out and nothing crashes', async (t) => {
    const exocom = new MockExoCom({ replyRouting: false })
    const exocomPort = await exocom.listen()
    const options = { exocomPort, port: 0, logger: false as const, register: false }
    const users = new ExoRelay({ serviceName: 'users', ...options })
    const web = new ExoRelay({ serviceName: 'web', ...options })
    t.after(async () => {
      await Promise.all([users.close(), web.close()])
      await exocom.close()
    })
    users.registerHandler('users.create', () => {
      throw new Error('boom')
    })
    const [usersPort, webPort] = await Promise.all([users.listen(), web.listen()])
    exocom.registerService({ name: 'users', port: usersPort, receives: ['users.create'] })
    exocom.registerService({ name: 'web', port: webPort, receives: ['users.created'] })

    await assert.rejects(web.send('users.create', {}, { timeout: 200 }), {
      code: ErrorCodes.TIMEOUT,
    })
    const errorReply = await exocom.waitForMessage('__error')
    assert.equal(errorReply.sender, 'users')
    assert.deepEqual(errorReply.payload, {
      code: ErrorCodes.HANDLER_FAILED,
      message: 'boom',
      service: 'users',
    })
    assert.equal(web.pendingReplies, 0)
  })
})

describe('graceful close', () => {
  test('close() withdraws, then refuses new messages, lets running handlers finish and their replies go out', async (t) => {
    const { bus, relay } = await landscape(t)
    const { logger, logged } = recordingLogger()
    const users = relay('users', { closeTimeout: 60_000, logger })
    const web = relay('web')
    const started = deferred()
    const release = deferred()
    users.registerHandler('users.create', async (user: { name: string }, { reply }) => {
      started.resolve()
      await release.promise
      await reply('users.created', user)
    })
    const usersPort = await users.listen()
    await web.listen()

    const created = web.send('users.create', { name: 'Will' }, { timeout: 60_000 })
    await started.promise
    const withdrawn = logged((msg) => msg.startsWith('closing:'))
    const closing = users.close()
    await withdrawn
    // The relay has left the bus; a message posted to it directly now is refused with 503.
    const refused = await fetch(`http://127.0.0.1:${usersPort}/run/users.create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'late' }),
    })
    assert.equal(refused.status, 503)
    assert.equal(refused.headers.get('exorelay-error-code'), ErrorCodes.CLOSED)
    assert.equal(bus.config().services.users, undefined)

    release.resolve()
    assert.deepEqual(await created, { name: 'Will' })
    await closing
    assert.equal(users.status().state, 'closed')
  })

  test('a handler still running while its relay closes gets the replies to its own requests', async (t) => {
    const { relay } = await landscape(t)
    const { logger, logged } = recordingLogger()
    const users = relay('users', { closeTimeout: 60_000, logger })
    const passwords = relay('passwords')
    const web = relay('web')
    const started = deferred()
    const release = deferred()
    users.registerHandler('users.create', async (user: { name: string }, { reply, send }) => {
      started.resolve()
      await release.promise
      // Sent after users withdrew: the bus must still route the reply back to it.
      const hash = await send('passwords.hash', user.name, { timeout: 60_000 })
      await reply('users.created', { ...user, hash })
    })
    passwords.registerHandler('passwords.hash', (text: string, { reply }) =>
      reply('passwords.hashed', `#${text}`),
    )
    await Promise.all([users.listen(), passwords.listen(), web.listen()])

    const created = web.send('users.create', { name: 'Will' }, { timeout: 60_000 })
    await started.promise
    const withdrawn = logged((msg) => msg.startsWith('closing:'))
    const closing = users.close()
    await withdrawn
    release.resolve()

    assert.deepEqual(await created, { name: 'Will', hash: '#Will' })
    await closing
  })

  test('handlers still running at the close timeout are abandoned, and pending sends reject', async (t) => {
    const { relay } = await landscape(t)
    const users = relay('users', { closeTimeout: 50 })
    const started = deferred()
    users.registerHandler('slow', async () => {
      started.resolve()
      await new Promise(() => {}) // never ends
    })
    const web = relay('web')
    web.registerHandler('never.answered', () => {})
    await Promise.all([users.listen(), web.listen()])
    const pending = users.send('never.answered', 1, { timeout: 60_000 })
    web.send('slow', 1, { reply: false })
    await started.promise

    await users.close()

    await assert.rejects(pending, { code: ErrorCodes.CLOSED })
    assert.equal(users.pendingReplies, 0)
  })
})

describe('shared secret', () => {
  test('relays and bus with the same token talk; the token never shows in errors', async (t) => {
    const { relay } = await landscape(t, { token: 's3cret-token' })
    const users = relay('users', { token: 's3cret-token' })
    const web = relay('web', { token: 's3cret-token' })
    const intruder = relay('intruder', { token: 'wrong-token', register: false })
    users.registerHandler('users.create', (user, { reply }) => reply('users.created', user))
    await Promise.all([users.listen(), web.listen(), intruder.listen()])

    assert.deepEqual(await web.send('users.create', { name: 'Will' }), { name: 'Will' })
    await assert.rejects(
      intruder.send('users.create', {}),
      (error: ExoRelayError & { status?: number }) => {
        assert.equal(error.code, ErrorCodes.BUS_REFUSED)
        assert.equal(error.status, 401)
        assert.doesNotMatch(`${error.message} ${String(error.cause)}`, /s3cret|wrong-token/)
        return true
      },
    )
  })

  test('a relay with a token refuses deliveries without it', async (t) => {
    const exocom = new MockExoCom()
    const users = new ExoRelay({
      serviceName: 'users',
      exocomPort: await exocom.listen(),
      port: 0,
      logger: false,
      token: 's3cret',
    })
    t.after(async () => {
      await users.close()
      await exocom.close()
    })
    let ran = false
    users.registerHandler('users.create', () => {
      ran = true
    })
    const port = await users.listen()
    exocom.registerService({ name: 'users', port })

    assert.equal(await exocom.send({ service: 'users', name: 'users.create' }), 401)
    assert.equal(ran, false)
  })
})

describe('readiness', () => {
  test('GET /status stays 200 and tells the state and whether the bus was reachable', async (t) => {
    const { relay } = await landscape(t)
    const web = relay('web')
    const port = await web.listen()
    const response = await fetch(`http://127.0.0.1:${port}/status`)
    assert.equal(response.status, 200)
    const status = (await response.json()) as Record<string, unknown>
    assert.equal(status.state, 'online')
    assert.equal(status.bus, 'reachable')
    assert.equal(status.registered, true)
    assert.equal(status.pendingReplies, 0)
  })
})

describe('the bus restarts under load', () => {
  test('every pending send settles by its deadline, and the relays recover by themselves', {
    timeout: 60_000,
  }, async (t) => {
    let bus: ExoCom = await startExoCom({ port: 0, logger: false })
    const port = bus.port
    const options = {
      exocomPort: port,
      port: 0,
      logger: false as const,
      registerInterval: 50,
      timeout: 1_000,
    }
    const users = new ExoRelay({ serviceName: 'users', ...options })
    const web = new ExoRelay({ serviceName: 'web', ...options })
    t.after(async () => {
      await Promise.all([users.close(), web.close()])
      await bus.close()
    })
    users.registerHandler('users.create', (user, { reply }) => reply('users.created', user))
    await Promise.all([users.listen(), web.listen()])

    // 64 callers in a closed loop, while the bus goes down and comes back on the same port.
    let stop = false
    const outcomes: (string | 'ok')[] = []
    const caller = async () => {
      while (!stop) {
        try {
          await web.send('users.create', { name: 'Will' })
          outcomes.push('ok')
        } catch (error) {
          assert.ok(isExoRelayError(error), `an uncoded error escaped: ${String(error)}`)
          outcomes.push(error.code)
        }
      }
    }
    const callers = Array.from({ length: 64 }, caller)
    while (outcomes.length < 200) await new Promise((resolve) => setImmediate(resolve))
    await bus.close()
    bus = await startExoCom({ port, logger: false })
    const beforeRecovery = outcomes.length
    // Recovered once 200 more request/replies succeeded through the new bus.
    while (outcomes.slice(beforeRecovery).filter((o) => o === 'ok').length < 200) {
      await new Promise((resolve) => setImmediate(resolve))
    }
    stop = true
    await Promise.all(callers)

    assert.equal(web.pendingReplies, 0)
    assert.ok(outcomes.filter((o) => o === 'ok').length >= 400)
    const failures = new Set(outcomes.filter((o) => o !== 'ok'))
    for (const code of failures) {
      assert.ok(
        [
          ErrorCodes.TIMEOUT,
          ErrorCodes.BUS_UNREACHABLE,
          ErrorCodes.NO_RECEIVER,
          ErrorCodes.BUS_REFUSED,
          // The responder's reply could not reach the bus either: its handler failed.
          ErrorCodes.REMOTE_HANDLER_FAILED,
        ].includes(code as never),
        `unexpected failure ${code}`,
      )
    }
  })
})
