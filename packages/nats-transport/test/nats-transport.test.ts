import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, connect as netConnect, type Socket } from 'node:net'
import { describe, type TestContext, test } from 'node:test'
import { setImmediate as nextTurn } from 'node:timers/promises'
import {
  createEnvelope,
  ErrorCodes,
  type HandlerContext,
  Relay,
  type RelayOptions,
} from '@exorelay/core'
import { CANCEL } from '@exorelay/core/internal'
import {
  freePort,
  type NatsServer,
  RecordingLogger,
  startNatsCluster,
  startNatsServer,
  withDeadline,
} from '@exorelay/testing'
import { connect, headers, type Msg, MsgHdrsImpl } from '@nats-io/transport-node'
import { type NatsTransportOptions, natsTransport } from '../src/nats-transport.js'

// The NATS transport against real nats-server processes on free loopback ports.

interface RelayFactoryOptions extends Partial<Omit<RelayOptions, 'transport'>> {
  nats?: Partial<NatsTransportOptions>
}

/**
 * One test's servers and relays. When the test ends the relays close first, while their
 * servers still run, then the servers are killed.
 */
function fixture(t: TestContext) {
  const servers: NatsServer[] = []
  const made: Relay[] = []
  t.after(async () => {
    await Promise.all(made.map((relay) => relay.close()))
    await Promise.all(servers.map((server) => server.stop()))
  })
  return {
    async server(args?: string[]): Promise<NatsServer> {
      const started = await startNatsServer({ args })
      servers.push(started)
      return started
    },
    async cluster(size: number): Promise<NatsServer[]> {
      const nodes = await startNatsCluster(size)
      servers.push(...nodes)
      return nodes
    },
    /** A factory of relays on `servers`. */
    relays(servers: string | string[]) {
      return (serviceName: string, { nats, ...options }: RelayFactoryOptions = {}): Relay => {
        const relay = new Relay({
          serviceName,
          ...options,
          transport: natsTransport({ servers, logger: options.logger, ...nats }),
        })
        made.push(relay)
        return relay
      }
    },
  }
}

/** `promise`, or a failure naming `what` once 5 s passed: no wait in these tests can hang. */
function within<T>(promise: Promise<T>, what: string): Promise<T> {
  return withDeadline(promise, 5_000, () => what)
}

/** Headers of a raw NATS message, from names and values. */
function headersFrom(fields: Record<string, string>) {
  const hdrs = headers()
  for (const [name, value] of Object.entries(fields)) hdrs.append(name, value)
  return hdrs
}

/** Every header of a raw NATS message, with its values. */
function headersOfMsg(msg: Msg): Record<string, string[]> {
  return Object.fromEntries(msg.headers ?? [])
}

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
const TRACESTATE = 'congo=t61rcWkgMzE'
const A_DAY = 86_400_000

/** The trace context of a traced request, as its headers are set. */
const TRACE = { traceparent: TRACEPARENT, tracestate: TRACESTATE }
/** The same, as the headers of a received message read. */
const TRACE_HEADERS = { traceparent: [TRACEPARENT], tracestate: [TRACESTATE] }

/** What a handler saw of its message's trace and deadline. */
interface SeenTrace {
  traceparent: string | undefined
  tracestate: string | undefined
  timeLeft: number
}

/** What `context` shows of its message's trace and deadline, when the handler runs. */
function seenTrace(
  context: Pick<HandlerContext, 'traceparent' | 'tracestate' | 'timeLeft'>,
): SeenTrace {
  return {
    traceparent: context.traceparent,
    tracestate: context.tracestate,
    timeLeft: context.timeLeft(),
  }
}

/** Asserts that a handler saw {@link TRACE} and a deadline at most `timeout` ms away. */
function assertSawTrace(seen: SeenTrace, timeout: number): void {
  assert.deepEqual({ traceparent: seen.traceparent, tracestate: seen.tracestate }, TRACE)
  assert.ok(seen.timeLeft > 0 && seen.timeLeft <= timeout, `${seen.timeLeft} of ${timeout} ms left`)
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((res) => {
    resolve = res
  })
  return { promise, resolve }
}

/**
 * Sends until the request is routed. Across a cluster a new subscription reaches the other
 * nodes a moment after `listen()` resolved on its own node; no client event marks that moment.
 */
async function sendOnceRouted(relay: Relay, name: string, payload: unknown): Promise<unknown> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await relay.send(name, payload, { timeout: 5_000 })
    } catch (error) {
      const unrouted = (error as { code?: string }).code === ErrorCodes.NO_RECEIVER
      if (!unrouted || attempt === 100) throw error
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}

describe('natsTransport options', () => {
  test('missing or empty servers and a bad subject prefix are invalid options', () => {
    for (const servers of [undefined, '', ' ', [], [''], [42]]) {
      assert.throws(() => natsTransport({ servers } as unknown as NatsTransportOptions), {
        code: ErrorCodes.INVALID_OPTION,
      })
    }
    assert.throws(() => natsTransport({ servers: 'nats://127.0.0.1:4222', subjectPrefix: 'a.>' }), {
      code: ErrorCodes.INVALID_OPTION,
    })
  })
})

describe('natsTransport connection', () => {
  test('with no server yet, listen resolves, warns once without a stack, and connects and subscribes once the server is up', async (t) => {
    const f = fixture(t)
    const nats = await f.server()
    await nats.stop()
    const logger = new RecordingLogger()
    const make = f.relays(nats.url)
    const users = make('users', { logger })
    users.registerHandler('users.create', (user, { reply }) => reply('users.created', user))

    await users.listen()
    const warning = await logger.waitFor((entry) => entry.level === 'warn')
    assert.equal(users.status().state, 'online')
    assert.equal(users.status().bus, 'unreachable')
    assert.equal(users.status().registered, false)
    // Retried quietly: two retries after the warning.
    await logger.waitFor(
      (entry) =>
        entry.message === 'NATS still unreachable; retrying' &&
        logger.find('NATS still unreachable; retrying').length >= 2,
    )
    await nats.restart()
    const connected = await logger.waitFor(
      (entry) => entry.message?.startsWith('connected to NATS after') === true,
      { timeout: 15_000 },
    )
    const web = make('web')
    await web.listen()

    assert.deepEqual(await web.send('users.create', { name: 'Will' }), { name: 'Will' })
    assert.equal(logger.at('warn').length, 1, 'one warning for the whole outage')
    assert.equal(users.status().bus, 'reachable')
    assert.equal(users.status().registered, true)
    assert.equal(warning.fields.code, ErrorCodes.BUS_UNREACHABLE)
    assert.equal(warning.fields.url, nats.url)
    assert.equal(warning.fields.err, undefined, 'no error object, so no stack')
    assert.match(warning.message ?? '', /^could not connect to NATS at /)
    assert.equal(connected.level, 'info')
    assert.equal(typeof connected.fields.outage, 'number')
  })

  test('a send with no server to connect to rejects with BUS_UNREACHABLE', async (t) => {
    const f = fixture(t)
    const url = `nats://127.0.0.1:${await freePort()}`
    const web = f.relays(url)('web')
    await assert.rejects(web.send('hello', {}, { reply: false }), {
      code: ErrorCodes.BUS_UNREACHABLE,
    })
  })

  test('token authentication: the right token connects, a wrong one fails to listen', async (t) => {
    const f = fixture(t)
    const nats = await f.server(['--auth', 's3cret'])
    const make = f.relays(nats.url)
    const users = make('users', { nats: { token: 's3cret' } })
    const web = make('web', { nats: { token: 's3cret' } })
    users.registerHandler('users.create', (user, { reply }) => reply('users.created', user))
    await Promise.all([users.listen(), web.listen()])
    assert.deepEqual(await web.send('users.create', { name: 'Will' }), { name: 'Will' })

    const intruder = make('intruder', { nats: { token: 'wrong' } })
    await assert.rejects(intruder.listen(), { code: ErrorCodes.LISTEN_FAILED })
  })

  test('a relay that never listens still sends: it connects on its first send', async (t) => {
    const f = fixture(t)
    const nats = await f.server()
    const make = f.relays(nats.url)
    const greeter = make('greeter')
    const greeted = deferred<unknown>()
    greeter.registerHandler('hello', (payload) => greeted.resolve(payload))
    await greeter.listen()

    const script = make('script')
    await script.send('hello', { name: 'world' }, { reply: false })
    assert.deepEqual(await greeted.promise, { name: 'world' })
  })

  test('while the server is down sends fail fast with BUS_UNREACHABLE; the drop and the reconnect are logged with code, url and the outage', async (t) => {
    const f = fixture(t)
    const nats = await f.server()
    const logger = new RecordingLogger()
    const web = f.relays(nats.url)('web', { logger })
    await web.listen()

    await nats.stop()
    const dropped = await logger.waitFor(
      (entry) => entry.message === 'disconnected from NATS; reconnecting',
    )
    await assert.rejects(web.send('hello', {}, { reply: false }), {
      code: ErrorCodes.BUS_UNREACHABLE,
    })
    await assert.rejects(web.send('users.create', {}, { timeout: 60_000 }), {
      code: ErrorCodes.BUS_UNREACHABLE,
    })
    await nats.restart()
    const back = await logger.waitFor(
      (entry) => entry.message?.startsWith('reconnected to NATS') === true,
      { timeout: 15_000 },
    )

    assert.equal(logger.find('disconnected from NATS; reconnecting', 'warn').length, 1)
    assert.equal(web.pendingReplies, 0)
    // As the HTTP transport's 'registered with ExoCom again after …' (docs/reliability.md).
    assert.deepEqual(
      [dropped.level, dropped.fields.code, dropped.fields.url],
      ['warn', ErrorCodes.BUS_UNREACHABLE, nats.url],
    )
    assert.equal(back.level, 'info')
    assert.match(back.message ?? '', /^reconnected to NATS after \d+(\.\d+)? m?s$/)
    assert.equal(back.fields.url, nats.url)
    assert.equal(typeof back.fields.outage, 'number')
  })

  test('close() while a retried connection is on its way ends quietly: no error line', async (t) => {
    const f = fixture(t)
    const nats = await f.server()
    // Stands between the relay and the server: refuses while it does not listen, then holds
    // the retried connection until the transport is closed.
    const port = await freePort()
    const arrived = deferred<Socket>()
    const proxy = createServer((socket) => arrived.resolve(socket))
    t.after(() => {
      proxy.close()
      return arrived.promise.then((socket) => socket.destroy())
    })
    const logger = new RecordingLogger()
    const transport = natsTransport({ servers: `nats://127.0.0.1:${port}`, logger })
    const relay = new Relay({ serviceName: 'users', transport })
    t.after(() => relay.close())
    relay.registerHandler('users.create', () => {})
    await relay.listen()
    await logger.waitFor((entry) => entry.message?.startsWith('could not connect to NATS') === true)

    proxy.listen(port, '127.0.0.1')
    const socket = await within(arrived.promise, 'the retried connection never came')
    const closed = transport.close()
    await nextTurn()
    await assert.rejects(transport.send(createEnvelope('hello', 'users', 1), { timeout: 1_000 }), {
      code: ErrorCodes.CLOSED,
    })
    // Let the held connection through: the client connects, and finds the transport closed.
    const upstream = netConnect(nats.port, '127.0.0.1')
    socket.pipe(upstream).pipe(socket)
    await within(closed, 'close() did not finish')

    assert.deepEqual(logger.at('error'), [])
  })

  test('after close, the transport refuses to send (CLOSED) and to listen again', async (t) => {
    const f = fixture(t)
    const nats = await f.server()
    const transport = natsTransport({ servers: nats.url })
    const relay = new Relay({ serviceName: 'web', transport })
    await relay.listen()
    await relay.close()
    await transport.close()

    await assert.rejects(transport.send(createEnvelope('hello', 'web', 1), { timeout: 1_000 }), {
      code: ErrorCodes.CLOSED,
    })
    const again = new Relay({ serviceName: 'web', transport })
    await assert.rejects(again.listen(), { code: ErrorCodes.LISTEN_FAILED })
  })
})

describe('natsTransport subjects and wire', () => {
  test('a message travels on its escaped subject, with the HTTP body and its reply route', async (t) => {
    const f = fixture(t)
    const nats = await f.server()
    const observer = await connect({ servers: nats.url })
    t.after(() => observer.close())
    const seen = deferred<{ subject: string; body: unknown; headers: string[] }>()
    observer.subscribe('exorelay.>', {
      callback: (_error, msg) =>
        seen.resolve({
          subject: msg.subject,
          body: msg.json(),
          headers: [...(msg.headers?.keys() ?? [])],
        }),
    })
    await observer.flush()

    const web = f.relays(nats.url)('web')
    const sent = web.send('odd name.*', 'payload', { reply: false })
    await sent
    assert.deepEqual(await seen.promise, {
      subject: 'exorelay.odd%20name.%2A',
      body: { id: sent.id, sender: 'web', payload: 'payload' },
      headers: ['exorelay-reply-to'],
    })
  })

  test("a reply names its outcome in the requester's inbox subject and carries no headers", async (t) => {
    const f = fixture(t)
    const nats = await f.server()
    const make = f.relays(nats.url)
    const users = make('users')
    users.registerHandler('users.create', (user, { reply }) => reply('users.created ✓', user))
    const web = make('web')
    await Promise.all([users.listen(), web.listen()])
    const observer = await connect({ servers: nats.url })
    t.after(() => observer.close())
    const seen = deferred<{ subject: string; headers: boolean }>()
    observer.subscribe('_INBOX.>', {
      callback: (_error, msg) => {
        if (!msg.subject.includes('.r.')) return
        seen.resolve({ subject: msg.subject, headers: msg.headers !== undefined })
      },
    })
    await observer.flush()

    assert.deepEqual(await web.send('users.create', { name: 'Will' }), { name: 'Will' })
    const reply = await seen.promise
    assert.match(reply.subject, /^_INBOX\.[^.]+\.r\.users\.created%20%u2713$/)
    assert.equal(reply.headers, false)
  })

  test('odd names reach their handlers and their replies come back', async (t) => {
    const f = fixture(t)
    const nats = await f.server()
    const make = f.relays(nats.url)
    const odd = make('odd service name')
    const web = make('web')
    const names = ['hello world', 'users.*', 'users.>', 'a..b', '.', 'ユーザー.作成', '100%', '🚀']
    for (const name of names) {
      odd.registerHandler(name, (payload, { reply }) => reply(`${name} done ✓`, payload))
    }
    await Promise.all([odd.listen(), web.listen()])

    for (const name of names) {
      const reply = await web.send(name, name).envelope()
      assert.equal(reply.name, `${name} done ✓`)
      assert.equal(reply.payload, name)
    }
  })

  test('a plain NATS client can send to a relay: a JSON body with an id is enough', async (t) => {
    const f = fixture(t)
    const nats = await f.server()
    const greeter = f.relays(nats.url)('greeter')
    const greeted = deferred<{ payload: unknown; id: string }>()
    greeter.registerHandler('hello', (payload, { id }) => greeted.resolve({ payload, id }))
    await greeter.listen()

    const client = await connect({ servers: nats.url })
    t.after(() => client.close())
    client.publish('exorelay.hello', JSON.stringify({ id: 'plain-1', payload: 'world' }))
    await client.flush()
    assert.deepEqual(await greeted.promise, { payload: 'world', id: 'plain-1' })
  })

  test("a plain NATS client's request() gets the relay's reply; its traceparent header reaches ctx.traceparent and comes back", async (t) => {
    const f = fixture(t)
    const nats = await f.server()
    const users = f.relays(nats.url)('users')
    const seen = deferred<SeenTrace>()
    users.registerHandler('users.create', (user, context) => {
      seen.resolve(seenTrace(context))
      return context.reply('users.created', user)
    })
    await users.listen()

    const client = await connect({ servers: nats.url })
    t.after(() => client.close())
    const reply = await client.request(
      'exorelay.users.create',
      JSON.stringify({ id: 'plain-3', payload: { name: 'Will' } }),
      { timeout: 5_000, headers: headersFrom({ ...TRACE, 'exorelay-timeout': '5000' }) },
    )
    assertSawTrace(await within(seen.promise, 'users.create was not handled'), 5_000)
    assert.deepEqual(headersOfMsg(reply), { 'exorelay-name': ['users.created'], ...TRACE_HEADERS })
    const body = reply.json<{ id: unknown }>()
    assert.equal(typeof body.id, 'string')
    assert.deepEqual(body, {
      id: body.id,
      sender: 'users',
      responseTo: 'plain-3',
      payload: { name: 'Will' },
    })
  })

  test('a reply to a request that named no inbox travels by name, as ExoCom routes it', async (t) => {
    const f = fixture(t)
    const nats = await f.server()
    const make = f.relays(nats.url)
    const users = make('users')
    const audit = make('audit')
    users.registerHandler('users.create', (user, { reply }) => reply('users.created', user))
    const audited = deferred<{ payload: unknown; responseTo: string | undefined }>()
    audit.registerHandler('users.created', (payload, { responseTo }) =>
      audited.resolve({ payload, responseTo }),
    )
    await Promise.all([users.listen(), audit.listen()])

    const client = await connect({ servers: nats.url })
    t.after(() => client.close())
    client.publish('exorelay.users.create', JSON.stringify({ id: 'plain-2', payload: 'Will' }))
    assert.deepEqual(await audited.promise, { payload: 'Will', responseTo: 'plain-2' })
  })

  test('handlers registered after listen are subscribed too', async (t) => {
    const f = fixture(t)
    const nats = await f.server()
    const users = f.relays(nats.url)('users')
    await users.listen()
    users.registerHandler('users.count', (_payload, { reply }) => reply('users.counted', 3))

    // The same connection subscribed first, so the server has the subscription by now.
    assert.equal(await users.send('users.count'), 3)
  })

  test('a message over the server max_payload is refused with BUS_REFUSED', async (t) => {
    const f = fixture(t)
    const nats = await f.server()
    const web = f.relays(nats.url)('web')
    await web.listen()
    await assert.rejects(web.send('big', 'x'.repeat(2 * 1024 * 1024), { reply: false }), {
      code: ErrorCodes.BUS_REFUSED,
      message: /max_payload of 1048576 bytes/,
    })
  })

  test('a malformed message on a subject is logged and dropped; the connection reads on', async (t) => {
    const f = fixture(t)
    const nats = await f.server()
    const logger = new RecordingLogger()
    const greeter = f.relays(nats.url)('greeter', { logger })
    const greeted = deferred<unknown>()
    greeter.registerHandler('hello', (payload) => greeted.resolve(payload))
    await greeter.listen()

    const client = await connect({ servers: nats.url })
    t.after(() => client.close())
    client.publish('exorelay.hello', 'not json')
    client.publish('exorelay.hello', JSON.stringify({ payload: 'no id' }))
    // A header name with a space: nats.js throws when it reads it. Thrown out of a subscription
    // callback, that stopped the connection reading for good.
    client.publish('exorelay.hello', JSON.stringify({ id: 'bad', payload: 'headers' }), {
      headers: MsgHdrsImpl.fromRecord({ 'bad name': ['1'] }),
    })
    client.publish('exorelay.hello', JSON.stringify({ id: 'ok', payload: 'fine' }))
    assert.equal(await within(greeted.promise, 'the well-formed message was not handled'), 'fine')
    const dropped = logger.find('malformed message dropped', 'warn')
    assert.deepEqual(
      dropped.map((entry) => entry.fields.messageName),
      ['hello', 'hello', 'hello'],
    )
    assert.match(
      String(dropped[2]?.fields.err),
      /the headers of the message on 'exorelay\.hello' cannot be read/,
    )
  })

  test('a reply on the inbox without a name header is logged and dropped', async (t) => {
    const f = fixture(t)
    const nats = await f.server()
    const logger = new RecordingLogger()
    const web = f.relays(nats.url)('web', { logger })
    await web.listen()

    // A foreign responder answers on the request's reply route without ExoRelay's headers.
    const client = await connect({ servers: nats.url })
    t.after(() => client.close())
    client.subscribe('exorelay.users.create', {
      callback: (_error, msg) => {
        client.publish(msg.headers!.get('exorelay-reply-to'), JSON.stringify({ id: 'r' }))
      },
    })
    await client.flush()

    const sent = web.send('users.create', {}, { timeout: 300 })
    await logger.waitFor((entry) => entry.message === 'malformed reply dropped')
    await assert.rejects(sent, { code: ErrorCodes.TIMEOUT })
    assert.equal(logger.find('malformed reply dropped', 'warn').length, 1)
  })
})

describe('natsTransport deadline and trace headers', () => {
  test("a handler's request carries the trace and deadline as headers, not body keys, and so does its reply", async (t) => {
    const f = fixture(t)
    const nats = await f.server()
    const make = f.relays(nats.url)
    const users = make('users')
    const passwords = make('passwords')
    const atPasswords = deferred<SeenTrace>()
    const usersDone = deferred<unknown>()
    users.registerHandler('users.create', async (_user, { send }) => {
      usersDone.resolve(await send('passwords.encrypt', 'secret'))
    })
    passwords.registerHandler('passwords.encrypt', (_secret, context) => {
      atPasswords.resolve(seenTrace(context))
      return context.reply('passwords.encrypted', 'hash')
    })
    await Promise.all([users.listen(), passwords.listen()])

    const observer = await connect({ servers: nats.url })
    t.after(() => observer.close())
    const request = deferred<Msg>()
    const reply = deferred<Msg>()
    observer.subscribe('exorelay.passwords.encrypt', {
      callback: (_error, msg) => request.resolve(msg),
    })
    observer.subscribe('_INBOX.*.r.passwords.encrypted', {
      callback: (_error, msg) => reply.resolve(msg),
    })
    await observer.flush()

    // The traced request starts at a plain NATS client, whose headers say trace and deadline.
    observer.publish('exorelay.users.create', JSON.stringify({ id: 'plain-5', payload: {} }), {
      headers: headersFrom({ ...TRACE, 'exorelay-timeout': '60000' }),
    })
    assert.equal(await within(usersDone.promise, "users' send got no reply"), 'hash')
    assertSawTrace(await atPasswords.promise, 60_000)

    const onTheWire = await within(request.promise, 'the observer saw no request')
    const { 'exorelay-timeout': timeout, ...others } = headersOfMsg(onTheWire)
    assert.deepEqual(others, { 'exorelay-reply-to': others['exorelay-reply-to'], ...TRACE_HEADERS })
    assert.match(others['exorelay-reply-to']?.[0] ?? '', /^_INBOX\.[^.]+\.r$/)
    assert.ok(Number(timeout?.[0]) > 0 && Number(timeout?.[0]) <= 60_000, `timeout ${timeout}`)
    assert.deepEqual(Object.keys(onTheWire.json()), ['id', 'sender', 'payload'])

    const replied = await within(reply.promise, 'the observer saw no reply')
    assert.deepEqual(headersOfMsg(replied), TRACE_HEADERS)
    assert.deepEqual(Object.keys(replied.json()), ['id', 'sender', 'payload', 'responseTo'])
  })

  test('bad header values are dropped or clamped, and the message is still handled', async (t) => {
    const f = fixture(t)
    const nats = await f.server()
    const logger = new RecordingLogger()
    const users = f.relays(nats.url)('users', { logger })
    const cases: Array<[Record<string, string>, { traceparent?: string; timeLeft: string }]> = [
      [{ traceparent: '00-not-a-trace-01', tracestate: TRACESTATE }, { timeLeft: 'none' }],
      [{ traceparent: `${TRACEPARENT}-extra` }, { timeLeft: 'none' }],
      [{ traceparent: 'é'.repeat(100_000) }, { timeLeft: 'none' }],
      [{ 'exorelay-timeout': '-5' }, { timeLeft: 'none' }],
      [{ 'exorelay-timeout': 'abc' }, { timeLeft: 'none' }],
      [{ 'exorelay-timeout': 'ü' }, { timeLeft: 'none' }],
      [{ 'exorelay-timeout': '1e99' }, { timeLeft: 'a day' }],
      [
        { 'exorelay-timeout': '1e99', traceparent: TRACEPARENT },
        { traceparent: TRACEPARENT, timeLeft: 'a day' },
      ],
    ]
    const handled = new Map<string, { traceparent?: string; timeLeft: string }>()
    const allHandled = deferred()
    users.registerHandler('users.create', (_user, { id, traceparent, timeLeft }) => {
      const left = timeLeft()
      const read =
        left === Number.POSITIVE_INFINITY ? 'none' : left > A_DAY - 60_000 ? 'a day' : `${left} ms`
      handled.set(id, { ...(traceparent !== undefined && { traceparent }), timeLeft: read })
      if (handled.size === cases.length) allHandled.resolve()
    })
    await users.listen()

    const client = await connect({ servers: nats.url })
    t.after(() => client.close())
    for (const [index, [fields]] of cases.entries()) {
      client.publish('exorelay.users.create', JSON.stringify({ id: `bad-${index}` }), {
        headers: headersFrom(fields),
      })
    }
    await within(
      allHandled.promise,
      `only ${handled.size} of ${cases.length} messages were handled`,
    )
    for (const [index, [fields, expected]] of cases.entries()) {
      assert.deepEqual(handled.get(`bad-${index}`), expected, JSON.stringify(fields).slice(0, 80))
    }
    assert.deepEqual(logger.at('warn'), [])
  })
})

describe('natsTransport cancellations', () => {
  /** A handler that runs until its caller cancels it. */
  function untilCancelled() {
    const started = deferred()
    const stopped = deferred<unknown>()
    const handler = async (_payload: unknown, { signal }: { signal: AbortSignal }) => {
      started.resolve()
      if (!signal.aborted) await once(signal, 'abort')
      stopped.resolve(signal.reason)
    }
    return { handler, started: started.promise, stopped: stopped.promise }
  }

  /**
   * Sends `name` from `relay` and aborts the send once `running` runs; asserts that the send
   * rejects and the handler is cancelled. Gives the request's id.
   */
  async function sendAndCancel(
    relay: Relay,
    name: string,
    running: ReturnType<typeof untilCancelled>,
  ): Promise<string> {
    const controller = new AbortController()
    const sent = relay.send(name, {}, { timeout: 60_000, signal: controller.signal })
    await within(running.started, `${name} was not handled`)
    controller.abort()
    await assert.rejects(sent, { code: ErrorCodes.ABORTED })
    const reason = await within(running.stopped, `the handler of ${name} was not cancelled`)
    assert.match(
      String(reason),
      new RegExp(`The caller cancelled '${name.replaceAll('.', '\\.')}'`),
    )
    return sent.id
  }

  test("a cancellation travels on its request's name and reaches only the relays that handle it", async (t) => {
    const f = fixture(t)
    const nats = await f.server()
    const make = f.relays(nats.url)
    const logs = [new RecordingLogger(), new RecordingLogger()]
    const instances = logs.map((logger) => make('users', { logger }))
    const auditLog = new RecordingLogger()
    const audit = make('audit', { logger: auditLog })
    const web = make('web')
    const running = untilCancelled()
    for (const users of instances) users.registerHandler('users.create', running.handler)
    const audited = deferred()
    audit.registerHandler('audit.log', () => audited.resolve())
    await Promise.all([...instances, audit, web].map((relay) => relay.listen()))

    const observer = await connect({ servers: nats.url })
    t.after(() => observer.close())
    const cancellations: Msg[] = []
    observer.subscribe('exorelay.~cancel.>', {
      callback: (_error, msg) => {
        cancellations.push(msg)
      },
    })
    const broadcast: Msg[] = []
    observer.subscribe(`exorelay.${CANCEL}`, {
      callback: (_error, msg) => {
        broadcast.push(msg)
      },
    })
    await observer.flush()

    const requestId = await sendAndCancel(web, 'users.create', running)

    // Both instances of users got it (one ran the request, the other says it does not), and
    // audit, which does not handle the name, did not: web's later message to audit came after
    // it on the same connection.
    const notRunning = (log: RecordingLogger) =>
      log.find('cancellation of a handler that is not running', 'debug').length
    // waitFor fails by itself after 5 s.
    await Promise.any(
      logs.map((log) =>
        log.waitFor((entry) => entry.message === 'cancellation of a handler that is not running'),
      ),
    )
    assert.deepEqual(logs.map(notRunning).sort(), [0, 1])
    await web.send('audit.log', {}, { reply: false })
    await within(audited.promise, 'audit.log was not handled')
    assert.equal(notRunning(auditLog), 0)
    await observer.flush()
    assert.deepEqual(
      cancellations.map((msg) => {
        const { id, ...body } = msg.json<{ id: unknown }>()
        return { subject: msg.subject, id: typeof id, body, headers: msg.headers }
      }),
      [
        {
          subject: 'exorelay.~cancel.users.create',
          id: 'string',
          body: { sender: 'web', responseTo: requestId },
          headers: undefined,
        },
      ],
    )
    assert.deepEqual(broadcast, [])
  })

  test('a handler registered after listen can be cancelled too', async (t) => {
    const f = fixture(t)
    const nats = await f.server()
    const users = f.relays(nats.url)('users')
    await users.listen()
    const running = untilCancelled()
    users.registerHandler('users.count', running.handler)

    // The same connection subscribed first, so the server has both subscriptions by now.
    await sendAndCancel(users, 'users.count', running)
  })

  test('the cancellation of a request this transport did not send is refused with NO_RECEIVER', async () => {
    const transport = natsTransport({ servers: 'nats://127.0.0.1:1' })
    const cancellation = createEnvelope(CANCEL, 'web', undefined, 'never-sent')
    await assert.rejects(transport.send(cancellation, { timeout: 1_000 }), {
      code: ErrorCodes.NO_RECEIVER,
      message: /cancellation of request 'never-sent' has nowhere to go/,
    })
    await transport.close()
  })
})

describe('natsTransport receipts', () => {
  test('a message the relay refuses (overloaded) is logged with its id, as there is no status to answer', async (t) => {
    const f = fixture(t)
    const nats = await f.server()
    const logger = new RecordingLogger()
    const make = f.relays(nats.url)
    const users = make('users', { logger, concurrency: 1, maxQueued: 0 })
    const web = make('web')
    const release = deferred()
    const running = deferred()
    users.registerHandler('users.create', async (_payload, { reply }) => {
      running.resolve()
      await release.promise
      await reply('users.created', 'ok')
    })
    await Promise.all([users.listen(), web.listen()])

    const first = web.send('users.create', 1, { timeout: 10_000 })
    await running.promise
    const refused = web.send('users.create', 2, { timeout: 300 })
    await logger.waitFor((entry) => entry.message === 'message not accepted: unavailable')
    await assert.rejects(refused, { code: ErrorCodes.TIMEOUT })
    release.resolve()
    assert.equal(await first, 'ok')

    const [entry] = logger.find('message not accepted: unavailable', 'warn')
    assert.equal(entry?.fields.messageId, refused.id)
    assert.equal((entry?.fields.err as { code?: string })?.code, ErrorCodes.OVERLOADED)
  })

  test('a reply that comes after its deadline is dropped quietly (debug)', async (t) => {
    const f = fixture(t)
    const nats = await f.server()
    const logger = new RecordingLogger()
    const make = f.relays(nats.url)
    const users = make('users')
    const web = make('web', { logger })
    const timedOut = deferred()
    users.registerHandler('users.create', async (_payload, { reply }) => {
      await timedOut.promise
      await reply('users.created', 'late')
    })
    await Promise.all([users.listen(), web.listen()])

    const sent = web.send('users.create', {}, { timeout: 200 })
    await assert.rejects(sent, { code: ErrorCodes.TIMEOUT })
    timedOut.resolve()
    // The relay remembers the requests it gave up on and takes their replies quietly.
    const late = 'late reply: its sender no longer waited'
    await logger.waitFor((entry) => entry.message === late)
    assert.equal(logger.find(late, 'debug')[0]?.fields.responseTo, sent.id)
    assert.equal(logger.at('warn').length, 0)
  })
})

describe('natsTransport scaling', () => {
  test('a service on one node of a cluster answers a requester on another', async (t) => {
    const f = fixture(t)
    const [nodeA, nodeB] = await f.cluster(2)
    const users = f.relays(nodeA!.url)('users')
    const web = f.relays(nodeB!.url)('web')
    users.registerHandler('users.create', (user, { reply }) =>
      reply('users.created', { ...user, node: 'A' }),
    )
    await Promise.all([users.listen(), web.listen()])

    assert.deepEqual(await sendOnceRouted(web, 'users.create', { name: 'Will' }), {
      name: 'Will',
      node: 'A',
    })
    for (let i = 0; i < 20; i++) {
      assert.deepEqual(await web.send('users.create', { i }), { i, node: 'A' })
    }
  })

  test('instances of a service share the load; each message reaches one of them', async (t) => {
    const f = fixture(t)
    const nats = await f.server()
    const make = f.relays(nats.url)
    const handled = [0, 0, 0]
    const instances = handled.map((_, index) => {
      const users = make('users')
      users.registerHandler('users.create', async (user, { reply }) => {
        handled[index]!++
        await new Promise((resolve) => setImmediate(resolve))
        await reply('users.created', user)
      })
      return users
    })
    const audit = make('audit')
    let audited = 0
    audit.registerHandler('users.create', () => {
      audited++
    })
    const web = make('web')
    await Promise.all([...instances, audit, web].map((relay) => relay.listen()))

    const replies = await Promise.all(
      Array.from({ length: 300 }, (_, i) => web.send('users.create', { i })),
    )

    assert.deepEqual(
      replies.map((reply) => (reply as { i: number }).i),
      Array.from({ length: 300 }, (_, i) => i),
    )
    assert.equal(handled[0]! + handled[1]! + handled[2]!, 300, 'each request was handled once')
    for (const [index, count] of handled.entries()) {
      assert.ok(count > 0, `instance ${index} handled some of the 300 requests`)
    }
    assert.equal(audited, 300, 'another service handling the name got every message too')
  })

  test('closing one instance mid-load loses only requests that were in flight on it', async (t) => {
    const f = fixture(t)
    const nats = await f.server()
    const make = f.relays(nats.url)
    const stopping = new RecordingLogger()
    const received: Array<Set<string>> = [new Set(), new Set(), new Set()]
    const replied: Array<Set<string>> = [new Set(), new Set(), new Set()]
    let closed: Promise<void> | undefined
    const instances = received.map((ids, index) => {
      const users = make('users', index === 0 ? { logger: stopping, closeTimeout: 10_000 } : {})
      users.registerHandler('users.create', async (user, { id, reply }) => {
        ids.add(id)
        // The first instance stops while it is busy: this handler and others are running.
        if (index === 0 && ids.size === 20) closed = users.close()
        await work()
        await reply('users.created', user)
        replied[index]!.add(id)
      })
      return users
    })
    const web = make('web')
    await Promise.all([...instances, web].map((relay) => relay.listen()))

    // 300 requests as a steady stream: 30 batches of 10, each sent when the last settled.
    const sends: Array<{ id: string; result: PromiseSettledResult<unknown> }> = []
    for (let batch = 0; batch < 30; batch++) {
      const sent = Array.from({ length: 10 }, (_, i) =>
        web.send('users.create', { batch, i }, { timeout: 1_500 }),
      )
      const results = await Promise.allSettled(sent)
      for (const [i, result] of results.entries()) sends.push({ id: sent[i]!.id, result })
    }
    assert.ok(closed, 'the first instance was closed mid-load')
    await closed

    const refusedWhileClosing = new Set(
      stopping
        .find('message not accepted: unavailable', 'warn')
        .map((entry) => entry.fields.messageId as string),
    )
    const failed = sends.filter(({ result }) => result.status === 'rejected')
    for (const { id, result } of failed) {
      const code = ((result as PromiseRejectedResult).reason as { code?: string }).code
      assert.equal(code, ErrorCodes.TIMEOUT)
      assert.ok(refusedWhileClosing.has(id), `failed request ${id} was in flight on the closed one`)
    }
    assert.equal(sends.length, 300)
    assert.equal(failed.length, refusedWhileClosing.size, 'every other request was answered')
    assert.deepEqual(
      [...received[0]!].filter((id) => !replied[0]!.has(id)),
      [],
      'every handler the closed instance started finished, and its reply arrived',
    )
    assert.equal(received[0]!.size + received[1]!.size + received[2]!.size, 300 - failed.length)
    t.diagnostic(
      `closed instance handled ${received[0]!.size} and refused ${refusedWhileClosing.size} while closing; the others handled ${received[1]!.size} and ${received[2]!.size}`,
    )
  })

  test('a nats-server restart under load: relays reconnect and carry on', async (t) => {
    const f = fixture(t)
    const nats = await f.server()
    const make = f.relays(nats.url)
    const quickReconnect = { connectOptions: { reconnectTimeWait: 100, reconnectJitter: 0 } }
    const usersLog = new RecordingLogger()
    const webLog = new RecordingLogger()
    // Five handlers at a time, so that the stream of requests is still being worked through.
    const users = make('users', { logger: usersLog, nats: quickReconnect, concurrency: 5 })
    const web = make('web', { logger: webLog, nats: quickReconnect })
    users.registerHandler('users.create', async (user, { reply }) => {
      await work()
      await reply('users.created', user)
    })
    await Promise.all([users.listen(), web.listen()])
    for (let i = 0; i < 20; i++) assert.deepEqual(await web.send('users.create', i), i)

    // Killed while requests are on their way: some were answered, others are in flight.
    let answered = 0
    const someAnswered = deferred()
    const during = Array.from({ length: 100 }, (_, i) => {
      const sent = web.send('users.create', i, { timeout: 1_000 })
      sent.then(
        () => ++answered === 10 && someAnswered.resolve(),
        () => undefined,
      )
      return sent
    })
    await someAnswered.promise
    await nats.stop()
    await webLog.waitFor((entry) => entry.message === 'disconnected from NATS; reconnecting')
    for (let i = 0; i < 50; i++) during.push(web.send('users.create', i, { timeout: 1_000 }))
    await nats.restart()
    await Promise.all(
      [usersLog, webLog].map((log) =>
        log.waitFor((entry) => entry.message?.startsWith('reconnected to NATS after') === true),
      ),
    )
    const settled = await Promise.allSettled(during)

    // A handler whose own reply could not go out during the outage (the server was down, or
    // back while the requester was not yet) fails, and its error reply, carrying that code,
    // reaches the requester once both are back.
    const codes = settled.flatMap((result) => {
      if (result.status === 'fulfilled') return []
      const { code, remoteCode } = result.reason as { code?: string; remoteCode?: string }
      return [code === ErrorCodes.REMOTE_HANDLER_FAILED ? `${code}(${remoteCode})` : code]
    })
    const allowed = [
      ErrorCodes.TIMEOUT,
      ErrorCodes.BUS_UNREACHABLE,
      ErrorCodes.NO_RECEIVER,
      `${ErrorCodes.REMOTE_HANDLER_FAILED}(${ErrorCodes.BUS_UNREACHABLE})`,
      `${ErrorCodes.REMOTE_HANDLER_FAILED}(${ErrorCodes.NO_RECEIVER})`,
    ]
    for (const code of codes) {
      assert.ok(allowed.includes(code!), `a request during the restart settled with ${code}`)
    }
    assert.equal(settled.length, 150)
    const afterwards = await Promise.allSettled(
      Array.from({ length: 100 }, (_, i) => web.send('users.create', i, { timeout: 5_000 })),
    )
    assert.deepEqual(
      afterwards.filter((result) => result.status === 'rejected'),
      [],
      'every request after the restart succeeds',
    )
    assert.equal(web.pendingReplies, 0)
    const reconnected = usersLog
      .at('info')
      .filter((entry) => entry.message?.startsWith('reconnected to NATS after'))
    assert.equal(reconnected.length, 1)
    assert.equal(typeof reconnected[0]?.fields.outage, 'number')
    const tally = (code: string) => codes.filter((c) => c === code).length
    t.diagnostic(
      `during the restart: ${150 - codes.length} answered; ${allowed.map((code) => `${tally(code)} ${code}`).join(', ')}`,
    )
  })
})

/** A handler's stand-in for real work: it yields to the event loop for a moment. */
function work(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1))
}
