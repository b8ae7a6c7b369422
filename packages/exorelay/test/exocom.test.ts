import assert from 'node:assert/strict'
import { once } from 'node:events'
import { describe, type TestContext, test } from 'node:test'
import { startExoCom } from '@exorelay/exocom'
import Fastify from 'fastify'
import { ErrorCodes, ExoRelay } from '../src/index.js'

// The relay against the bundled bus, both ways it can be routed: the original orchestrator's
// routing table (POST /services) and self-registration.

/** A bus and two self-registering relays on it, `users` and `web`, all closed after the test. */
async function busWithUsersAndWeb(t: TestContext) {
  const bus = await startExoCom({ port: 0, logger: false })
  const users = new ExoRelay({ serviceName: 'users', exocomPort: bus.port, port: 0, logger: false })
  const web = new ExoRelay({ serviceName: 'web', exocomPort: bus.port, port: 0, logger: false })
  t.after(async () => {
    await Promise.all([users.close(), web.close()])
    await bus.close()
  })
  return { bus, users, web }
}
describe('ExoRelay with @exorelay/exocom', () => {
  test('relays configured only through POST /services talk through the bus', async (t) => {
    const bus = await startExoCom({ port: 0, logger: false })
    const options = { exocomPort: bus.port, port: 0, logger: false as const, register: false }
    const users = new ExoRelay({ serviceName: 'users', ...options })
    const web = new ExoRelay({ serviceName: 'web', ...options })
    t.after(async () => {
      await Promise.all([users.close(), web.close()])
      await bus.close()
    })
    users.registerHandler('users.create', (user: { name: string }, { reply }) =>
      reply('users.created', { id: 1, name: user.name }),
    )
    const [usersPort, webPort] = await Promise.all([users.listen(), web.listen()])
    const table = [
      {
        name: 'users',
        host: '127.0.0.1',
        port: usersPort,
        receives: ['users.create'],
        sends: ['users.created'],
      },
      {
        name: 'web',
        host: '127.0.0.1',
        port: webPort,
        receives: ['users.created'],
        sends: ['users.create'],
      },
    ]
    const posted = await fetch(`${bus.url}/services`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(table),
    })
    assert.equal(posted.status, 200)

    const reply = await web.send('users.create', { name: 'Will' }).envelope()

    assert.equal(reply.name, 'users.created')
    assert.deepEqual(reply.payload, { id: 1, name: 'Will' })
    assert.deepEqual(Object.keys(bus.config().services).sort(), ['users', 'web'])
  })

  test('a burst of sends between self-registered relays travels in batches both ways, and each caller gets its own reply', async (t) => {
    const bus = await startExoCom({ port: 0, logger: false })
    // Each relay mounted in an app that counts the requests the bus makes to it.
    const requests = { users: 0, web: 0 }
    const relay = (serviceName: 'users' | 'web') => {
      const app = Fastify()
      app.addHook('onRequest', (request, _reply, done) => {
        if (request.url.startsWith('/run')) requests[serviceName]++
        done()
      })
      t.after(() => app.close())
      const exoRelay = new ExoRelay({
        serviceName,
        exocomPort: bus.port,
        fastify: app,
        logger: false,
      })
      return { app, exoRelay }
    }
    const users = relay('users')
    const web = relay('web')
    t.after(() => bus.close())
    users.exoRelay.registerHandler('users.create', (user: { n: number }, { reply }) =>
      reply('users.created', { n: user.n }),
    )
    const online = Promise.all([once(users.exoRelay, 'online'), once(web.exoRelay, 'online')])
    await users.app.listen({ port: 0, host: '127.0.0.1' })
    await web.app.listen({ port: 0, host: '127.0.0.1' })
    await online
    await web.exoRelay.send('users.create', { n: -1 })
    requests.users = 0
    requests.web = 0

    const count = 300
    const replies = await Promise.all(
      Array.from({ length: count }, (_, n) => web.exoRelay.send('users.create', { n })),
    )

    assert.deepEqual(
      replies.map((reply) => (reply as { n: number }).n),
      Array.from({ length: count }, (_, n) => n),
    )
    assert.equal(bus.config().services.users?.batches, true)
    assert.ok(requests.users < count, `${requests.users} requests carried ${count} requests`)
    assert.ok(requests.web < count, `${requests.web} requests carried ${count} replies`)
  })

  test('self-registered relays need no table, and the reply finds a requester that declared nothing', async (t) => {
    const { bus, users, web } = await busWithUsersAndWeb(t)
    users.registerHandler('users.create', (user: { name: string }, { reply }) =>
      reply('users.created', { id: 1, name: user.name }),
    )
    await Promise.all([users.listen(), web.listen()])

    assert.deepEqual(await web.send('users.create', { name: 'Will' }), { id: 1, name: 'Will' })
    assert.deepEqual(
      bus.config().routes['users.create']?.receivers.map((r) => r.name),
      ['users'],
    )

    await users.close()
    assert.equal(bus.config().services.users, undefined, 'a closed relay withdrew from the bus')
    await assert.rejects(web.send('users.create', {}), { code: ErrorCodes.NO_RECEIVER })
  })

  test('a payload of 1 MB goes through the bus to a relay, and its reply back, unchanged', async (t) => {
    const { users, web } = await busWithUsersAndWeb(t)
    // Every kind of JSON, escapes and characters of every UTF-8 length, filled to 1,000,000
    // bytes: under the 1 MiB body limit of the bus and of the relay with the envelope around it.
    const items = Array.from({ length: 1000 }, (_, i) => ({
      i,
      fraction: i / 7,
      text: `item ${i}: "quoted" \\ back\nslash\t é ✓ 😀 \u2028`,
      flags: [true, false, null],
      nested: { empty: {}, list: [] },
    }))
    const shell = { items, filler: '' }
    const filler = 1_000_000 - Buffer.byteLength(JSON.stringify(shell))
    const payload = { ...shell, filler: 'x'.repeat(filler) }
    assert.equal(Buffer.byteLength(JSON.stringify(payload)), 1_000_000)
    let handled: unknown
    users.registerHandler('blobs.echo', (blob: unknown, { reply }) => {
      handled = blob
      return reply('blobs.echoed', blob)
    })
    await Promise.all([users.listen(), web.listen()])

    const echoed = await web.send('blobs.echo', payload)

    assert.deepEqual(handled, payload)
    assert.deepEqual(echoed, payload)
  })

  test('a table posted without a live self-registered relay keeps routing to it, and config.json says where each entry came from', async (t) => {
    const bus = await startExoCom({ port: 0, logger: false })
    t.after(() => bus.close())
    const relay = (serviceName: string, register = true) => {
      const exoRelay = new ExoRelay({
        serviceName,
        exocomPort: bus.port,
        port: 0,
        logger: false,
        register,
      })
      t.after(() => exoRelay.close())
      return exoRelay
    }
    const users = relay('users')
    const web = relay('web')
    // Known to the bus only through the operator's table.
    const reports = relay('reports', false)
    users.registerHandler('users.create', (user: { name: string }, { reply }) =>
      reply('users.created', { id: 1, name: user.name }),
    )
    reports.registerHandler('reports.make', (_payload, { reply }) => reply('reports.made', 'ok'))
    const [, , reportsPort] = await Promise.all([users.listen(), web.listen(), reports.listen()])

    // An operator's table that names only 'reports': the live relays stay routed at once, not
    // only after their next registration.
    const posted = await fetch(`${bus.url}/services`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        { name: 'reports', host: '127.0.0.1', port: reportsPort, receives: ['reports.make'] },
      ]),
    })
    assert.equal(posted.status, 200)

    const config = (await (await fetch(`${bus.url}/config.json`)).json()) as {
      services: Record<string, { source: string }>
    }
    assert.deepEqual(
      Object.fromEntries(Object.entries(config.services).map(([name, s]) => [name, s.source])),
      { reports: 'configured', users: 'self-registered', web: 'self-registered' },
    )
    assert.deepEqual(await web.send('users.create', { name: 'Will' }), { id: 1, name: 'Will' })
    assert.equal(await web.send('reports.make'), 'ok')

    // A relay that closes withdraws; the next table does not bring it back.
    await users.close()
    await fetch(`${bus.url}/services`, {
      method: 'POST',
      body: '[]',
      headers: { 'content-type': 'application/json' },
    })
    assert.deepEqual(Object.keys(bus.config().services), ['web'])
  })

  test('a handler registered after listen is announced to the bus', async (t) => {
    const { users, web } = await busWithUsersAndWeb(t)
    await Promise.all([users.listen(), web.listen()])
    users.registerHandler('users.count', (_payload, { reply }) => reply('users.counted', 0))

    // Re-registration is asynchronous: retry the send until the bus knows the new name.
    let count: unknown
    for (let attempt = 0; attempt < 50 && count === undefined; attempt++) {
      count = await web.send('users.count').catch((error) => {
        if (error.code !== ErrorCodes.NO_RECEIVER) throw error
        return new Promise((resolve) => setImmediate(() => resolve(undefined)))
      })
    }
    assert.equal(count, 0)
  })
})
