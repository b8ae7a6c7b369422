/**
 * The Fastify plugin against a real bus, and its types. The message map below is declared
 * once, through `Register`, for this whole test program, as an application declares it: this
 * is the only file that uses `app.exorelay`. `npm run typecheck` compiles the type checks at
 * the end (each `@ts-expect-error` must fail to compile).
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { Writable } from 'node:stream'
import { type TestContext, test } from 'node:test'
import { type ExoCom, startExoCom } from '@exorelay/exocom'
import { deferred, freePort, RecordingLogger, withDeadline } from '@exorelay/testing'
import Fastify, { type FastifyInstance } from 'fastify'
import { pino } from 'pino'
import {
  ErrorCodes,
  ExoRelay,
  type ExoRelayPluginOptions,
  exorelayPlugin,
  MemoryBus,
  type RegisteredMessages,
  type Transport,
} from '../src/index.js'

type User = { id: number; name: string }

type Messages = {
  'users.create': { payload: { name: string }; replies: { 'users.created': User } }
  'web.work': { payload: { task: string }; replies: { 'web.worked': { task: string } } }
  greet: { payload: { name: string } }
}

declare module '../src/index.js' {
  interface Register {
    messages: Messages
  }
}

const WAIT = 10_000

/** A real bus on a free port, closed after the test. */
async function busFor(t: TestContext): Promise<ExoCom> {
  const bus = await startExoCom({ port: 0, logger: false })
  t.after(() => bus.close())
  return bus
}

/** The users service, a relay of its own: it creates users and greets. */
async function usersService(t: TestContext, bus: ExoCom): Promise<ExoRelay<Messages>> {
  const users = new ExoRelay<Messages>({
    serviceName: 'users',
    port: 0,
    exocomHost: '127.0.0.1',
    exocomPort: bus.port,
    logger: false,
  })
  users.registerHandler('users.create', (user, { reply }) =>
    reply('users.created', { id: 1, name: user.name }),
  )
  t.after(() => users.close())
  await users.listen()
  return users
}

/** A Fastify app with the plugin registered; `app.close()` runs after the test. */
function webApp(t: TestContext, options: ExoRelayPluginOptions): FastifyInstance {
  const app = Fastify()
  app.register(exorelayPlugin, { serviceName: 'web', exocomHost: '127.0.0.1', ...options })
  t.after(() => app.close())
  return app
}

/** A Fastify app logging to pino, and the lines it logged, parsed. */
function loggingApp() {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>)
      done()
    },
  })
  return { app: Fastify({ loggerInstance: pino(stream) }), lines }
}

/** `app.ready()` as a Promise, for `assert.rejects`. */
async function ready(app: FastifyInstance): Promise<void> {
  await app.ready()
}

/** The services the bus delivers `name` to. */
function receiversOf(bus: ExoCom, name: string): string[] {
  return bus.config().routes[name]?.receivers.map((service) => service.name) ?? []
}

test('the plugin decorates the app with a relay that goes online when the app listens, receives through the bus and awaits replies', async (t) => {
  const bus = await busFor(t)
  const users = await usersService(t, bus)
  const app = webApp(t, { exocomPort: bus.port, logger: false })
  const greeted = deferred<string>()
  // An encapsulated context sees the decoration too: the plugin is wrapped with fastify-plugin.
  app.register(async (api) => {
    api.exorelay.registerHandler('greet', ({ name }) => greeted.resolve(name))
    api.post<{ Body: { name: string } }>('/users', async (request) =>
      api.exorelay.send('users.create', request.body, { timeout: WAIT }),
    )
  })
  await app.ready()
  const online = once(app.exorelay, 'online')

  await app.listen({ port: 0, host: '127.0.0.1' })
  const [port] = await withDeadline(online, WAIT, () => 'the relay did not go online')

  assert.equal(port, (app.server.address() as { port: number }).port, "the app's port")
  assert.deepEqual(receiversOf(bus, 'greet'), ['web'], 'registered with the bus')
  await users.send('greet', { name: 'Deanna' }, { reply: false })
  assert.equal(await withDeadline(greeted.promise, WAIT, () => 'greet was not handled'), 'Deanna')
  const created = await app.exorelay.send('users.create', { name: 'Will' }, { timeout: WAIT })
  assert.deepEqual(created, { id: 1, name: 'Will' })
  const response = await fetch(`http://127.0.0.1:${port}/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Beverly' }),
  })
  assert.deepEqual(await response.json(), { id: 1, name: 'Beverly' })
})

test('app.close() withdraws the relay from the bus, and lets a running handler finish and reply before onClose hooks run', async (t) => {
  const bus = await busFor(t)
  const users = await usersService(t, bus)
  const log = new RecordingLogger()
  const app = webApp(t, { exocomPort: bus.port, logger: log })
  // What a handler uses, released on close by a plugin registered after this one (a database
  // pool, say): Fastify runs the onClose hooks last registered first.
  let poolOpen = true
  app.register(async (pool) => {
    pool.addHook('onClose', async () => {
      poolOpen = false
    })
  })
  const started = deferred<void>()
  const release = deferred<void>()
  let poolOpenAtTheEnd: boolean | undefined
  await app.ready()
  app.exorelay.registerHandler('web.work', async ({ task }, { reply }) => {
    started.resolve()
    await release.promise
    poolOpenAtTheEnd = poolOpen
    await reply('web.worked', { task })
  })
  const online = once(app.exorelay, 'online')
  await app.listen({ port: 0, host: '127.0.0.1' })
  await withDeadline(online, WAIT, () => 'the relay did not go online')
  const worked = users.send('web.work', { task: 'report' }, { timeout: WAIT })
  await withDeadline(started.promise, WAIT, () => 'web.work did not start')

  let closed = false
  const closing = app.close().then(() => {
    closed = true
  })
  await log.waitFor((entry) => entry.message?.startsWith('closing:') === true, { timeout: WAIT })

  assert.deepEqual(receiversOf(bus, 'web.work'), [], 'the bus no longer routes to the app')
  assert.equal(closed, false, 'the app waits for the running handler')
  release.resolve()
  assert.deepEqual(await worked, { task: 'report' }, "the handler's reply went out")
  assert.equal(poolOpenAtTheEnd, true, 'the handler finished before the onClose hooks ran')
  await withDeadline(closing, WAIT, () => 'app.close() did not finish')
  assert.equal(app.exorelay.online, false)
  assert.equal(app.exorelay.status().state, 'closed')
})

test('the relay logs through the app’s logger unless given one', async (t) => {
  const { app, lines } = loggingApp()
  app.register(exorelayPlugin, { serviceName: 'web', exocomPort: 1, register: false })
  t.after(() => app.close())
  await app.ready()
  const online = once(app.exorelay, 'online')
  await app.listen({ port: 0, host: '127.0.0.1' })
  await withDeadline(online, WAIT, () => 'the relay did not go online')

  const line = lines.find((entry) => entry.msg === 'online')
  assert.ok(line, "the relay's 'online' line is in the app's log")
  assert.equal(line.service, 'web')
})

test('the plugin registered twice in one app fails the app’s start with a coded error', async (t) => {
  const app = webApp(t, { exocomPort: 1, logger: false, register: false })
  app.register(exorelayPlugin, { serviceName: 'web', exocomPort: 1, logger: false })

  await assert.rejects(ready(app), {
    code: ErrorCodes.DUPLICATE_RELAY,
    message: /registered twice in one Fastify app.*Register it once, at the app's root/,
  })
})

test('new ExoRelay({ fastify: app }) beside the plugin in one app fails the app’s start with the same coded error, in either order', async (t) => {
  const duplicate = {
    code: ErrorCodes.DUPLICATE_RELAY,
    message: /A second relay is mounted in one Fastify app.*Mount one relay per app/,
  }
  const relayFirst = Fastify()
  t.after(() => relayFirst.close())
  new ExoRelay({ serviceName: 'admin', exocomPort: 1, logger: false, fastify: relayFirst })
  relayFirst.register(exorelayPlugin, { serviceName: 'web', exocomPort: 1, logger: false })
  await assert.rejects(ready(relayFirst), duplicate)

  const pluginFirst = Fastify()
  t.after(() => pluginFirst.close())
  pluginFirst.register(exorelayPlugin, { serviceName: 'web', exocomPort: 1, logger: false })
  await pluginFirst.after()
  assert.throws(
    () =>
      new ExoRelay({ serviceName: 'admin', exocomPort: 1, logger: false, fastify: pluginFirst }),
    duplicate,
  )
})

test('two new ExoRelay({ fastify: app }) in one app: the second throws the coded error at once', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  new ExoRelay({ serviceName: 'web', exocomPort: 1, logger: false, fastify: app })

  assert.throws(
    () => new ExoRelay({ serviceName: 'admin', exocomPort: 1, logger: false, fastify: app }),
    { code: ErrorCodes.DUPLICATE_RELAY },
  )
  await app.ready()
})

test("each option the app's server owns fails the app's start with a coded error naming where it goes", async (t) => {
  const fixes = {
    port: /got a 'port' option.*app\.listen\(\{ port \}\)/,
    host: /got a 'host' option.*app\.listen\(\{ host \}\).*'advertisedHost'/,
    requestTimeout: /got a 'requestTimeout' option.*Fastify\(\{ requestTimeout \}\)/,
    maxConnections: /got a 'maxConnections' option.*app\.server\.maxConnections/,
  }
  for (const [option, message] of Object.entries(fixes)) {
    const app = Fastify()
    t.after(() => app.close())
    const options = { serviceName: 'web', exocomPort: 1, logger: false, [option]: 0 }
    app.register(exorelayPlugin, options as ExoRelayPluginOptions)

    await assert.rejects(ready(app), { code: ErrorCodes.INVALID_OPTION, message }, option)
  }
})

test('the plugin registered in two contexts of one app fails the same way', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  for (const serviceName of ['web', 'admin']) {
    app.register(async (context) => {
      context.register(exorelayPlugin, { serviceName, exocomPort: 1, logger: false })
    })
  }

  await assert.rejects(ready(app), { code: ErrorCodes.DUPLICATE_RELAY })
})

test("a 'fastify' option fails the app's start with a coded error that names it", async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  const options = { serviceName: 'web', exocomPort: 1, logger: false, fastify: app }
  app.register(exorelayPlugin, options as ExoRelayPluginOptions)

  await assert.rejects(ready(app), {
    code: ErrorCodes.INVALID_OPTION,
    message: /got a 'fastify' option.*Leave 'fastify' out/,
  })
})

test('with the bus down the app listens and serves, and the relay registers once the bus is up', async (t) => {
  const exocomPort = await freePort()
  const log = new RecordingLogger()
  const app = webApp(t, { exocomPort, logger: log })
  app.get('/health', async () => ({ ok: true }))
  await app.ready()
  app.exorelay.registerHandler('greet', () => {})
  const online = once(app.exorelay, 'online')

  await app.listen({ port: 0, host: '127.0.0.1' })
  await withDeadline(online, WAIT, () => 'the relay did not go online without a bus')
  const { port } = app.server.address() as { port: number }
  assert.deepEqual(await (await fetch(`http://127.0.0.1:${port}/health`)).json(), { ok: true })
  assert.equal(app.exorelay.status().registered, false)

  const bus = await startExoCom({ port: exocomPort, host: '127.0.0.1', logger: false })
  t.after(() => bus.close())
  // Its first registration failed, so the line says how long the bus was missed.
  await log.waitFor((entry) => entry.message?.startsWith('registered with ExoCom after') === true, {
    timeout: 20_000,
  })
  assert.equal(log.at('warn').length, 1, 'one warning for the whole outage')
  assert.deepEqual(receiversOf(bus, 'greet'), ['web'])
})

test('an app that cannot listen (its port is busy) leaves the relay offline, without an offline line', async (t) => {
  const bus = await busFor(t)
  const blocker = createServer()
  blocker.listen(0, '127.0.0.1')
  await once(blocker, 'listening')
  t.after(() => blocker.close())
  const { port } = blocker.address() as { port: number }
  const log = new RecordingLogger()
  const app = webApp(t, { exocomPort: bus.port, logger: log })
  await app.ready()
  app.exorelay.registerHandler('greet', () => {})
  let events = 0
  app.exorelay.on('online', () => events++)
  app.exorelay.on('offline', () => events++)

  await assert.rejects(app.listen({ port, host: '127.0.0.1' }), { code: 'EADDRINUSE' })
  await app.close()

  assert.equal(events, 0, 'neither online nor offline')
  assert.equal(app.exorelay.status().state, 'closed')
  assert.deepEqual(receiversOf(bus, 'greet'), [], 'the bus never heard of it')
  assert.deepEqual(
    log.entries.map((entry) => entry.message),
    [],
    'no line: the relay was never online, nothing went offline',
  )
})

test('app.close() of an app that never listened finishes, also while app.exorelay.listen() waits for its port', async (t) => {
  const app = webApp(t, { exocomPort: 1, logger: false, register: false })
  await app.ready()
  const listening = app.exorelay.listen()

  await withDeadline(app.close(), WAIT, () => 'app.close() did not finish')
  await assert.rejects(listening, {
    code: ErrorCodes.LISTEN_FAILED,
    message: /closed before it listened.*Call app.listen\(\) before app.close\(\)/,
  })
})

test('with another transport the app still drives the relay: online with app.listen(), closed with app.close()', async (t) => {
  const bus = new MemoryBus()
  const app = webApp(t, { transport: bus.transport(), logger: false })
  await app.ready()
  const online = once(app.exorelay, 'online')
  const offline = once(app.exorelay, 'offline')

  await app.listen({ port: 0, host: '127.0.0.1' })
  await withDeadline(online, WAIT, () => 'the relay did not go online')
  await app.close()
  await withDeadline(offline, WAIT, () => 'the relay did not go offline')
})

test('a relay that fails to go online when the app listens logs it once, and its sends say that listen() failed', async (t) => {
  const broken: Transport = {
    listen: async () => {
      throw new Error('the broker refused the subscription')
    },
    send: async () => {},
    close: async () => {},
  }
  const { app, lines } = loggingApp()
  t.after(() => app.close())
  await app.register(exorelayPlugin, { serviceName: 'web', transport: broken })
  // onListen hooks run in order: this one runs once the relay's has finished.
  const hooksRan = deferred<void>()
  app.addHook('onListen', async () => hooksRan.resolve())
  app.get('/users', async () => app.exorelay.send('users.create', { name: 'Will' }))

  await app.listen({ port: 0, host: '127.0.0.1' })
  await withDeadline(hooksRan.promise, WAIT, () => "the app's onListen hooks did not finish")

  const errors = lines.filter((line) => (line.level as number) >= 50)
  assert.equal(errors.length, 1, 'one error line for the failure, not a second one with a stack')
  assert.match(String(errors[0]?.msg), /could not listen: Error: the broker refused/)
  const response = await app.inject({ method: 'GET', url: '/users' })
  assert.equal(response.statusCode, 500)
  assert.match(
    response.json<{ message: string }>().message,
    /^The relay 'web' is not listening, so no reply to 'users.create' can reach it: this relay's listen\(\) failed: The relay could not listen: Error: the broker refused the subscription/,
  )
})

// Types: compiled by `npm run typecheck`, never run.
function compileOnly(_code: () => void): void {}

/** True only when A and B are the same type (not merely assignable either way). */
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false

const _registered: Equal<RegisteredMessages, Messages> = true

compileOnly(async () => {
  const app = Fastify()
  const _decoration: Equal<typeof app.exorelay, ExoRelay<Messages>> = true
  const user = await app.exorelay.send('users.create', { name: 'Will' })
  const _reply: Equal<typeof user, User> = true
  app.exorelay.registerHandler('web.work', ({ task }, { reply }) => reply('web.worked', { task }))
  app.exorelay.send('greet', { name: 'Deanna' }, { reply: false })
  // @ts-expect-error: a name the map does not declare
  app.exorelay.send('users.delete', { id: 1 })
  // @ts-expect-error: a payload of the wrong shape
  app.exorelay.send('users.create', { nom: 'Will' })
  // @ts-expect-error: an outcome 'web.work' does not have
  app.exorelay.registerHandler('web.work', (_work, { reply }) => reply('web.failed', {}))
  // @ts-expect-error: the plugin mounts the relay in its own app: no `fastify` option
  app.register(exorelayPlugin, { serviceName: 'web', fastify: app })
  // @ts-expect-error: the app's port is the relay's: app.listen({ port })
  app.register(exorelayPlugin, { serviceName: 'web', port: 3000 })
  // @ts-expect-error: the app's server owns its timeouts
  app.register(exorelayPlugin, { serviceName: 'web', requestTimeout: 5_000 })
  // @ts-expect-error: a misspelled option
  app.register(exorelayPlugin, { serviceNam: 'web' })
})
