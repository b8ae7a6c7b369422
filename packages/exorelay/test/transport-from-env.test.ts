import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { describe, type TestContext, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createEnvelope, type Endpoint, type Transport } from '@exorelay/core'
import { freePort, startNatsServer } from '@exorelay/testing'
import Fastify from 'fastify'
import { ErrorCodes, ExoRelay } from '../src/index.js'
import {
  LazyTransport,
  NATS_TRANSPORT_PACKAGE,
  natsTransportFromEnv,
  transportKind,
} from '../src/transport-from-env.js'

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent }

/**
 * A real nats-server for one test. `closing` are closed before the server is killed when the
 * test ends, so that they close against a live server.
 */
async function natsServer(t: TestContext, closing: Array<{ close(): Promise<unknown> }>) {
  const server = await startNatsServer()
  t.after(async () => {
    await Promise.all(closing.map((item) => item.close()))
    await server.stop()
  })
  return server.url
}

describe('transportKind', () => {
  test('HTTP unless EXORELAY_TRANSPORT says nats; anything else is an invalid option', () => {
    assert.equal(transportKind({}), 'http')
    assert.equal(transportKind({ EXORELAY_TRANSPORT: '' }), 'http')
    assert.equal(transportKind({ EXORELAY_TRANSPORT: 'http' }), 'http')
    assert.equal(transportKind({ EXORELAY_TRANSPORT: ' NATS ' }), 'nats')
    assert.throws(() => transportKind({ EXORELAY_TRANSPORT: 'kafka' }), {
      code: ErrorCodes.INVALID_OPTION,
      message: /'kafka'/,
    })
  })
})

describe('natsTransportFromEnv', () => {
  const loaded = (): never => {
    throw new Error('must not load')
  }

  test('NATS without NATS_URL is a missing option naming the variable', () => {
    assert.throws(() => natsTransportFromEnv({ NATS_URL: ' , ' }, silent), {
      code: ErrorCodes.MISSING_OPTION,
      message: /NATS_URL/,
    })
  })

  test('a missing package is an invalid option naming the package to install, at once', () => {
    const loader = {
      resolve() {
        throw Object.assign(new Error(`Cannot find package '${NATS_TRANSPORT_PACKAGE}'`), {
          code: 'ERR_MODULE_NOT_FOUND',
        })
      },
      load: loaded,
    }
    assert.throws(() => natsTransportFromEnv({ NATS_URL: 'nats://n:4222' }, silent, loader), {
      code: ErrorCodes.INVALID_OPTION,
      message: /npm install @exorelay\/nats-transport/,
    })
  })

  test('the package is loaded on first use, once, with the servers and token of the environment', async () => {
    const calls: unknown[] = []
    const fake: Transport = {
      listen: async () => ({ port: 0 }),
      send: async () => undefined,
      close: async () => undefined,
    }
    let loads = 0
    const transport = natsTransportFromEnv(
      { NATS_URL: 'nats://a:4222, nats://b:4222', NATS_TOKEN: 's3cret' },
      silent,
      {
        resolve() {},
        load: async () => {
          loads++
          return {
            natsTransport: (options) => {
              calls.push(options)
              return fake
            },
          }
        },
      },
    )
    assert.equal(loads, 0, 'nothing is loaded before the transport is used')
    await transport.send(createEnvelope('hello', 'web', 1), { timeout: 1_000 })
    await transport.listen({} as Endpoint)
    assert.equal(loads, 1)
    assert.deepEqual(calls, [
      { servers: ['nats://a:4222', 'nats://b:4222'], logger: silent, token: 's3cret' },
    ])
  })

  test('a package that fails to load rejects the first use with the invalid option', async () => {
    const transport = natsTransportFromEnv({ NATS_URL: 'nats://n:4222' }, silent, {
      resolve() {},
      load: () => Promise.reject(new Error('broken install')),
    })
    await assert.rejects(transport.send(createEnvelope('hello', 'web', 1), { timeout: 1_000 }), {
      code: ErrorCodes.INVALID_OPTION,
    })
  })
})

describe('LazyTransport', () => {
  test('closing or draining an unused transport creates nothing', async () => {
    let created = 0
    const lazy = new LazyTransport(async () => {
      created++
      throw new Error('unused')
    })
    lazy.handlersChanged()
    await lazy.drain()
    await lazy.close()
    assert.equal(created, 0)
  })
})

describe('ExoRelay with EXORELAY_TRANSPORT=nats', () => {
  test('selects NATS with no code change: no ExoCom port needed, services talk through NATS', async (t) => {
    const closing: ExoRelay[] = []
    const env = { EXORELAY_TRANSPORT: 'nats', NATS_URL: await natsServer(t, closing) }
    const users = new ExoRelay({ serviceName: 'users', logger: false, env })
    const web = new ExoRelay({ serviceName: 'web', logger: false, env })
    closing.push(users, web)
    users.registerHandler('users.create', (user, { reply }) =>
      reply('users.created', { id: 1, name: user.name }),
    )

    assert.deepEqual(await Promise.all([users.listen(), web.listen()]), [0, 0])
    assert.deepEqual(await web.send('users.create', { name: 'Will' }), { id: 1, name: 'Will' })
    await assert.rejects(web.send('nobody.listens', {}, { timeout: Number.POSITIVE_INFINITY }), {
      code: ErrorCodes.NO_RECEIVER,
    })
  })

  test('mounted in a Fastify app, the relay goes online and closes with the app', async (t) => {
    const closing: Array<{ close(): Promise<unknown> }> = []
    const env = { EXORELAY_TRANSPORT: 'nats', NATS_URL: await natsServer(t, closing) }
    const app = Fastify()
    const users = new ExoRelay({ serviceName: 'users', logger: false, env, fastify: app })
    const web = new ExoRelay({ serviceName: 'web', logger: false, env })
    closing.push(app, web)
    users.registerHandler('users.count', (_payload, { reply }) => reply('users.counted', 7))
    const online = once(users, 'online')

    await app.listen({ port: 0, host: '127.0.0.1' })
    await online
    await web.listen()
    assert.equal(await web.send('users.count'), 7)
    await app.close()
    assert.equal(users.online, false)
  })

  test('an HTTP relay never loads the NATS client; a NATS one loads it on first use only', async () => {
    // A fresh process, so that only what the relay itself imported is in the module cache.
    const source = new URL('../src/index.ts', import.meta.url).href
    const script = `
      import { createRequire } from 'node:module'
      const { ExoRelay } = await import(${JSON.stringify(source)})
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((file) => file.includes('@nats-io'))
      const env = JSON.parse(process.argv[1])
      const relay = new ExoRelay({ serviceName: 'web', exocomPort: 1, logger: false, env })
      const before = loaded()
      await relay.send('hello', 1, { reply: false, timeout: 2000 }).catch(() => undefined)
      await relay.close()
      console.log(JSON.stringify({ before, after: loaded() }))
    `
    const run = async (env: Record<string, string>) => {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '--eval', script, JSON.stringify(env)],
        { cwd: fileURLToPath(new URL('..', import.meta.url)) },
      )
      return JSON.parse(stdout) as { before: boolean; after: boolean }
    }
    const [http, nats] = await Promise.all([
      run({}),
      run({ EXORELAY_TRANSPORT: 'nats', NATS_URL: `nats://127.0.0.1:${await freePort()}` }),
    ])
    assert.deepEqual(http, { before: false, after: false })
    assert.deepEqual(nats, { before: false, after: true })
  })
})
