import assert from 'node:assert/strict'
import { EventEmitter, once } from 'node:events'
import { createServer } from 'node:net'
import { Writable } from 'node:stream'
import { describe, test } from 'node:test'
import { freePort, MockExoCom } from '@exorelay/testing'
import { pino } from 'pino'
import { ErrorCodes, ExoRelay, isExoRelayError } from '../src/index.js'

/** A pino logger writing JSON lines into an array, to assert what the relay logs. */
function recordingLogger(level = 'debug') {
  const lines: Record<string, any>[] = []
  const written = new EventEmitter()
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) {
        if (line === '') continue
        lines.push(JSON.parse(line))
        written.emit('line')
      }
      done()
    },
  })
  /**
   * Resolves with the first line (already written or still to come) that matches; rejects
   * naming the latest lines when none does within `timeout` ms.
   */
  async function waitForLine(match: (line: Record<string, any>) => boolean, timeout = 10_000) {
    // AbortSignal.timeout's timer is unref'd: it never keeps the test process alive.
    const signal = AbortSignal.timeout(timeout)
    for (;;) {
      const found = lines.find(match)
      if (found !== undefined) return found
      try {
        await once(written, 'line', { signal })
      } catch {
        const last =
          lines
            .slice(-5)
            .map((line) => JSON.stringify(line))
            .join(' ') || 'none'
        throw new Error(
          `waitForLine: no log line matched within ${timeout} ms; last lines: ${last}`,
        )
      }
    }
  }
  return { logger: pino({ level }, stream), lines, waitForLine }
}

/** A bus stand-in plus two relays, `web` and `users`, on free ports; all closed after the test. */
async function landscape(t: { after: (fn: () => Promise<void>) => void }) {
  const exocom = new MockExoCom()
  const exocomPort = await exocom.listen()
  const log = recordingLogger()
  const web = new ExoRelay({ serviceName: 'web', exocomPort, port: 0, logger: log.logger })
  const users = new ExoRelay({ serviceName: 'users', exocomPort, port: 0, logger: false })
  t.after(async () => {
    await Promise.all([web.close(), users.close()])
    await exocom.close()
  })
  return { exocom, web, users, log }
}

describe('ExoRelay over HTTP', () => {
  test('an awaited send resolves with the reply payload through the bus', async (t) => {
    const { exocom, web, users } = await landscape(t)
    users.registerHandler('users.create', (user: { name: string }, { reply }) =>
      reply('users.created', { id: 456, name: user.name }),
    )
    const [webPort, usersPort] = await Promise.all([web.listen(), users.listen()])
    exocom.registerService({ name: 'users', port: usersPort, receives: ['users.create'] })
    exocom.registerService({ name: 'web', port: webPort })

    const created = await web.send('users.create', { name: 'Will Riker' }, { timeout: 5_000 })

    assert.deepEqual(created, { id: 456, name: 'Will Riker' })
    assert.equal(web.pendingReplies, 0)
    // A request carries its deadline and the sending instance (issue 15, decision 0017); the
    // reply, which waits for nothing, carries neither.
    const [request, reply] = exocom.receivedRequests.map((r) => r.body as Record<string, unknown>)
    assert.equal(request?.timeout, 5_000)
    assert.match(String(request?.instance), /^[\w-]{12}$/)
    assert.equal(reply?.timeout, undefined)
    assert.equal(reply?.instance, undefined)
  })

  test('the request on the wire is POST /send/<name> with JSON headers and the protocol body keys', async (t) => {
    const { exocom, web } = await landscape(t)
    await web.listen()
    const kinds: [string, unknown][] = [
      ['none', undefined],
      ['object', { name: 'world' }],
      ['empty object', {}],
      ['string', 'world'],
      ['empty string', ''],
      ['array', [1, 2, 3]],
      ['empty array', []],
    ]
    for (const [, payload] of kinds) await web.send('hello', payload, { reply: false })

    assert.equal(exocom.receivedRequests.length, kinds.length)
    for (const [index, [kind, payload]] of kinds.entries()) {
      const request = exocom.receivedRequests[index]!
      assert.equal(request.method, 'POST', kind)
      assert.equal(request.url, '/send/hello', kind)
      assert.equal(request.headers['content-type'], 'application/json', kind)
      assert.equal(request.headers.accept, 'application/json', kind)
      const body = request.body as Record<string, unknown>
      // Fire-and-forget: neither a deadline nor an instance (only replies need it).
      const keys = payload === undefined ? ['id', 'sender'] : ['id', 'payload', 'sender']
      assert.deepEqual(Object.keys(body).sort(), keys, kind)
      assert.equal(body.sender, 'web', kind)
      assert.deepEqual(body.payload, payload, kind)
    }
  })

  test('message names are URL-encoded on the wire', async (t) => {
    const { exocom, web } = await landscape(t)
    await web.send('users/create me ü', 1, { reply: false })
    assert.equal(exocom.receivedRequests[0]!.url, '/send/users%2Fcreate%20me%20%C3%BC')
    assert.equal(exocom.receivedMessages[0]!.name, 'users/create me ü')
  })

  test('a reply from a handler carries responseTo, and the incoming POST was answered 200', async (t) => {
    const { exocom, users } = await landscape(t)
    users.registerHandler('users.create', (user: { name: string }, { reply }) =>
      reply('users.created', { id: 456, name: user.name }),
    )
    const port = await users.listen()
    exocom.registerService({ name: 'users', port })

    const status = await exocom.send({
      service: 'users',
      name: 'users.create',
      id: 'm-1',
      payload: { name: 'Will' },
    })
    const reply = await exocom.waitForMessage('users.created')

    assert.equal(status, 200)
    assert.equal(reply.responseTo, 'm-1')
    assert.equal(reply.sender, 'users')
    assert.deepEqual(reply.payload, { id: 456, name: 'Will' })
    assert.equal(exocom.receivedMessages.length, 1, 'reply() sends exactly one message')
  })

  test('the listener answers 400, 404 and 500 as the original protocol does', async (t) => {
    const { exocom, users } = await landscape(t)
    users.registerHandler('boom', () => {
      throw new Error('kaputt')
    })
    const port = await users.listen()
    exocom.registerService({ name: 'users', port })
    const post = (path: string, body: unknown) =>
      fetch(`http://127.0.0.1:${port}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })

    const missingId = await post('/run/boom', { payload: 1 })
    assert.equal(missingId.status, 400)
    assert.equal(await missingId.text(), 'missing message id')
    const unknown = await post('/run/zonk', { id: '1' })
    assert.equal(unknown.status, 404)
    assert.equal(await unknown.text(), "unknown message: 'zonk'")
    assert.equal(unknown.headers.get('exorelay-error-code'), ErrorCodes.UNKNOWN_MESSAGE)
    assert.equal((await post('/run', { id: '1' })).status, 404)
    assert.equal(await exocom.send({ service: 'users', name: 'boom' }), 500)
    assert.equal((await fetch(`http://127.0.0.1:${port}/status`)).status, 200)
  })

  test('callback style receives every outcome until end()', async (t) => {
    const { exocom, web, users } = await landscape(t)
    users.registerHandler('files.upload', async (_payload, { reply }) => {
      await reply('files.progress', 50)
      await reply('files.progress', 100)
      await reply('files.uploaded', { url: '/f/1' })
    })
    const [webPort, usersPort] = await Promise.all([web.listen(), users.listen()])
    exocom.registerService({ name: 'users', port: usersPort, receives: ['files.upload'] })
    exocom.registerService({ name: 'web', port: webPort })
    const seen: [string, unknown][] = []

    await web.send('files.upload', 'data', (payload, { outcome, end }) => {
      seen.push([outcome, payload])
      if (outcome === 'files.uploaded') end()
    })

    assert.deepEqual(seen, [
      ['files.progress', 50],
      ['files.progress', 100],
      ['files.uploaded', { url: '/f/1' }],
    ])
    assert.equal(web.pendingReplies, 0)
  })

  test('a handler can send, await the reply, then reply itself', async (t) => {
    const { exocom, web, users } = await landscape(t)
    const passwords = new ExoRelay({
      serviceName: 'passwords',
      exocomPort: exocom.port,
      port: 0,
      logger: false,
    })
    t.after(() => passwords.close())
    passwords.registerHandler('passwords.encrypt', (password: string, { reply }) =>
      reply('passwords.encrypted', `hashed(${password})`),
    )
    users.registerHandler(
      'users.create',
      async (user: { name: string; password: string }, { reply, send }) => {
        const hash = await send('passwords.encrypt', user.password)
        await reply('users.created', { name: user.name, hash })
      },
    )
    const [webPort, usersPort, passwordsPort] = await Promise.all([
      web.listen(),
      users.listen(),
      passwords.listen(),
    ])
    exocom.registerService({ name: 'web', port: webPort })
    exocom.registerService({ name: 'users', port: usersPort, receives: ['users.create'] })
    exocom.registerService({
      name: 'passwords',
      port: passwordsPort,
      receives: ['passwords.encrypt'],
    })

    const user = await web.send('users.create', { name: 'Will', password: 'secret' })

    assert.deepEqual(user, { name: 'Will', hash: 'hashed(secret)' })
  })

  test('a send rejects with a timeout whose stack points at the caller', async (t) => {
    const { web } = await landscape(t)
    await web.listen()
    await assert.rejects(web.send('nobody.answers', 1, { timeout: 50 }), (error: Error) => {
      assert.ok(isExoRelayError(error, ErrorCodes.TIMEOUT))
      assert.match(error.stack ?? '', /exo-relay\.test\.ts/)
      return true
    })
    assert.equal(web.pendingReplies, 0)
  })

  test('a send rejects with an abort error when its signal fires', async (t) => {
    const { web } = await landscape(t)
    await web.listen()
    const controller = new AbortController()
    const sent = web.send('nobody.answers', 1, { signal: controller.signal })
    controller.abort()
    await assert.rejects(sent, { code: ErrorCodes.ABORTED })
    assert.equal(web.pendingReplies, 0)
  })

  test('a refusing bus rejects the send promptly with its status', async (t) => {
    const { exocom, web } = await landscape(t)
    await web.listen()
    exocom.sendStatus = 500
    await assert.rejects(web.send('users.create', {}, { timeout: 60_000 }), (error: any) => {
      assert.equal(error.code, ErrorCodes.BUS_REFUSED)
      assert.equal(error.status, 500)
      return true
    })
    assert.equal(web.pendingReplies, 0)
  })

  test('an unreachable bus rejects the send promptly, and an ignored send logs a warning instead of an unhandled rejection', async (t) => {
    const port = await freePort()
    const log = recordingLogger()
    const relay = new ExoRelay({
      serviceName: 'web',
      exocomPort: port,
      port: 0,
      logger: log.logger,
      register: false,
    })
    t.after(() => relay.close())
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    t.after(() => process.off('unhandledRejection', onUnhandled))
    await relay.listen()

    await assert.rejects(relay.send('users.create', {}, { timeout: 60_000 }), (error: Error) => {
      assert.equal((error as { code?: unknown }).code, ErrorCodes.BUS_UNREACHABLE)
      // It says what to do: start the bus, or point the relay at it, with the values in use.
      assert.match(
        error.message,
        new RegExp(
          `^ExoCom at http://localhost:${port} is unreachable: .*\\. Start the bus \\(npx exocom --port ${port}\\), or set EXOCOM_HOST and EXOCOM_PORT \\(the exocomHost and exocomPort options\\) to where it runs: they are 'localhost' and ${port} now\\.$`,
        ),
      )
      return true
    })
    relay.send('hello', { name: 'world' })
    const warning = await log.waitForLine(
      (line) => line.msg === 'send failed' && line.messageName === 'hello',
    )
    // An unhandled rejection would be reported after the failing turn; give it that turn.
    await new Promise((resolve) => setImmediate(resolve))

    assert.deepEqual(unhandled, [])
    assert.equal(warning.level, 40)
    assert.equal(warning.service, 'web')
  })

  test('close() rejects pending sends with the closed error and emits offline once the port is free', async (t) => {
    const { web } = await landscape(t)
    const port = await web.listen()
    const pending = web.send('nobody.answers', 1)
    let offline = 0
    web.on('offline', () => offline++)

    await web.close()

    await assert.rejects(pending, { code: ErrorCodes.CLOSED })
    assert.equal(offline, 1)
    await assertPortFree(port)
  })

  test('listening on a port in use rejects with a coded error and emits error, without crashing', async (t) => {
    const blocker = createServer()
    blocker.listen(0, '127.0.0.1')
    await once(blocker, 'listening')
    t.after(() => blocker.close())
    const port = (blocker.address() as { port: number }).port
    const { web } = await landscape(t)
    const errors: unknown[] = []
    web.on('error', (error) => errors.push(error))

    await assert.rejects(web.listen(port), { code: ErrorCodes.ADDRESS_IN_USE })
    assert.equal(errors.length, 1)
    assert.equal((errors[0] as any).code, ErrorCodes.ADDRESS_IN_USE)
    const retried = await web.listen(0)
    assert.notEqual(retried, port)
  })

  test('online fires with the bound port as a number', async (t) => {
    const { web } = await landscape(t)
    const online = once(web, 'online')
    const port = await web.listen('0')
    const [emitted] = await online
    assert.equal(typeof emitted, 'number')
    assert.equal(emitted, port)
  })

  test('log lines carry the service name, message name and id', async (t) => {
    const { exocom, web, log } = await landscape(t)
    await web.listen()
    const sent = web.send('hello', 'x', { reply: false })
    await sent
    const line = log.lines.find((entry) => entry.msg === 'sending')
    assert.ok(line)
    assert.equal(line.service, 'web')
    assert.equal(line.messageName, 'hello')
    assert.equal(line.messageId, sent.id)
    assert.equal(exocom.receivedMessages[0]!.id, sent.id)
  })
})

describe('ExoRelay self-registration', () => {
  test('a relay registers its handled names with the bus when online and withdraws them on close', async (t) => {
    const exocom = new MockExoCom()
    const exocomPort = await exocom.listen()
    t.after(() => exocom.close())
    const users = new ExoRelay({ serviceName: 'users', exocomPort, port: 0, logger: false })
    users.registerHandler('users.create', () => {})
    const port = await users.listen()
    await exocom.waitForService('users')
    assert.deepEqual(exocom.services, [
      { name: 'users', host: '127.0.0.1', port, receives: ['users.create'] },
    ])
    await users.close()
    assert.deepEqual(exocom.services, [])
  })
})

async function assertPortFree(port: number): Promise<void> {
  const server = createServer()
  server.listen(port, '127.0.0.1')
  await once(server, 'listening')
  await new Promise((resolve) => server.close(resolve))
}
