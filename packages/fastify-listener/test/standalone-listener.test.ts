import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { describe, test } from 'node:test'
import { ErrorCodes, type Receipt, type ReceivedMessage, type Receiver } from '@exorelay/core'
import { ERROR_CODE_HEADER } from '@exorelay/http-protocol'
import { withDeadline } from '@exorelay/testing'
import { StandaloneListener, type StandaloneListenerOptions } from '../src/standalone-listener.js'

const ACCEPTED: Receipt = { status: 'accepted' }

function recordingReceiver(): Receiver & { received: ReceivedMessage[] } {
  const received: ReceivedMessage[] = []
  return Object.assign(
    (message: ReceivedMessage): Receipt => {
      received.push(message)
      return ACCEPTED
    },
    { received },
  )
}

function postMessage(port: number, name: string, body: unknown): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/run/${encodeURIComponent(name)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
}

/** A plain TCP server holding a port, to make it busy. */
async function occupyPort(t: { after(fn: () => unknown): void }): Promise<Server> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    if (server.listening) return new Promise((resolve) => server.close(resolve))
  })
  return server
}

function portOf(server: Server): number {
  const address = server.address()
  assert.ok(address !== null && typeof address === 'object')
  return address.port
}

describe('StandaloneListener#listen', () => {
  test('serves messages and the status on the bound port', async (t) => {
    const listener = new StandaloneListener()
    t.after(() => listener.close())
    const receiver = recordingReceiver()

    const port = await listener.listen(receiver, 0)
    const status = await fetch(`http://127.0.0.1:${port}/status`)
    const run = await postMessage(port, 'users.create', { id: 'm-1', payload: { name: 'Will' } })

    assert.ok(port > 0)
    assert.equal(status.status, 200)
    assert.equal(await status.text(), '')
    assert.equal(run.status, 200)
    assert.equal(await run.text(), '')
    assert.deepEqual(receiver.received, [
      { name: 'users.create', id: 'm-1', payload: { name: 'Will' } },
    ])
  })

  test('binds the loopback address by default', async (t) => {
    const listener = new StandaloneListener()
    t.after(() => listener.close())

    await listener.listen(recordingReceiver(), 0)

    const address = listener.app.server.address()
    assert.ok(address !== null && typeof address === 'object')
    assert.equal(address.address, '127.0.0.1')
  })

  test('binds the host it is given', async (t) => {
    const listener = new StandaloneListener({ host: 'localhost' })
    t.after(() => listener.close())

    const port = await listener.listen(recordingReceiver(), 0)

    const status = await fetch(`http://localhost:${port}/status`)
    assert.equal(status.status, 200)
  })

  test('answers problems in the protocol form', async (t) => {
    const listener = new StandaloneListener({ bodyLimit: 64 })
    t.after(() => listener.close())
    const port = await listener.listen(recordingReceiver(), 0)

    const missingId = await postMessage(port, 'hello', { payload: 1 })
    const tooLarge = await postMessage(port, 'hello', { id: 'm-1', payload: 'x'.repeat(64) })

    assert.equal(missingId.status, 400)
    assert.equal(missingId.headers.get('content-type'), 'text/plain; charset=utf-8')
    assert.equal(missingId.headers.get(ERROR_CODE_HEADER), ErrorCodes.MISSING_ID)
    assert.equal(await missingId.text(), 'missing message id')
    assert.equal(tooLarge.status, 413)
    assert.equal(tooLarge.headers.get(ERROR_CODE_HEADER), ErrorCodes.INVALID_MESSAGE)
    await tooLarge.text()
  })

  test('answers invalid percent-encoding with a plain-text 400 and keeps serving', async (t) => {
    const listener = new StandaloneListener()
    t.after(() => listener.close())
    const port = await listener.listen(recordingReceiver(), 0)

    const bad = await fetch(`http://127.0.0.1:${port}/run/%zz`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"id":"m-1"}',
    })
    const good = await postMessage(port, 'hello', { id: 'm-2' })

    assert.equal(bad.status, 400)
    assert.equal(bad.headers.get('content-type'), 'text/plain; charset=utf-8')
    assert.equal(bad.headers.get(ERROR_CODE_HEADER), ErrorCodes.INVALID_MESSAGE)
    assert.equal(await bad.text(), "the url '/run/%zz' is not valid percent-encoding")
    assert.equal(good.status, 200)
    await good.text()
  })

  test('returns the same port when called again while listening', async (t) => {
    const listener = new StandaloneListener()
    t.after(() => listener.close())
    const receiver = recordingReceiver()

    const first = listener.listen(receiver, 0)
    const second = listener.listen(receiver, 0)

    assert.equal(first, second)
    assert.equal(await second, await first)
    assert.equal(await listener.listen(receiver, 0), await first)
  })

  test('rejects with ADDRESS_IN_USE when the port is taken, and can still close', async (t) => {
    const busy = await occupyPort(t)
    const port = portOf(busy)
    const listener = new StandaloneListener()

    await assert.rejects(listener.listen(recordingReceiver(), port), {
      name: 'ListenError',
      code: ErrorCodes.ADDRESS_IN_USE,
      message: `Port ${port} is already in use on 127.0.0.1.`,
    })
    await listener.close()

    assert.equal(listener.app.server.listening, false)
  })

  test('can listen again after a failed attempt', async (t) => {
    const busy = await occupyPort(t)
    const port = portOf(busy)
    const listener = new StandaloneListener()
    t.after(() => listener.close())
    const receiver = recordingReceiver()

    await assert.rejects(listener.listen(receiver, port), { code: ErrorCodes.ADDRESS_IN_USE })
    await new Promise((resolve) => busy.close(resolve))
    const bound = await listener.listen(receiver, port)
    const run = await postMessage(bound, 'hello', { id: 'm-1' })

    assert.equal(bound, port)
    assert.equal(run.status, 200)
    assert.equal(receiver.received.length, 1)
  })

  test('answers 503 not listening after a failed attempt', async (t) => {
    const busy = await occupyPort(t)
    const listener = new StandaloneListener()
    t.after(() => listener.close())

    await assert.rejects(listener.listen(recordingReceiver(), portOf(busy)), {
      code: ErrorCodes.ADDRESS_IN_USE,
    })
    const status = await listener.app.inject({ method: 'GET', url: '/status' })

    assert.equal(status.statusCode, 503)
    assert.equal(status.headers[ERROR_CODE_HEADER], ErrorCodes.NOT_LISTENING)
  })

  test('rejects with LISTEN_FAILED and the system error as cause for an address it cannot bind', async (t) => {
    // 192.0.2.1 is TEST-NET-1: never a local address, so binding fails at once without DNS.
    const listener = new StandaloneListener({ host: '192.0.2.1' })
    t.after(() => listener.close())

    const error = await listener.listen(recordingReceiver(), 0).then(
      () => assert.fail('listen should have failed'),
      (err: unknown) => err as Error & { code: string; cause: NodeJS.ErrnoException },
    )

    assert.equal(error.name, 'ListenError')
    assert.equal(error.code, ErrorCodes.LISTEN_FAILED)
    assert.equal(error.cause.code, 'EADDRNOTAVAIL')
    assert.match(error.message, /'192\.0\.2\.1'/)
  })

  for (const port of [-1, 65536, 1.5, Number.NaN]) {
    test(`rejects port ${port} with INVALID_OPTION`, async (t) => {
      const listener = new StandaloneListener()
      t.after(() => listener.close())

      await assert.rejects(listener.listen(recordingReceiver(), port), {
        code: ErrorCodes.INVALID_OPTION,
      })
    })
  }

  test('rejects a receiver that is not a function with INVALID_OPTION', async (t) => {
    const listener = new StandaloneListener()
    t.after(() => listener.close())

    await assert.rejects(listener.listen(undefined as unknown as Receiver, 0), {
      code: ErrorCodes.INVALID_OPTION,
    })
  })

  test('rejects with LISTEN_FAILED after close', async () => {
    const listener = new StandaloneListener()
    await listener.listen(recordingReceiver(), 0)
    await listener.close()

    await assert.rejects(listener.listen(recordingReceiver(), 0), {
      name: 'ListenError',
      code: ErrorCodes.LISTEN_FAILED,
    })
  })
})

describe('StandaloneListener#close', () => {
  test('frees the port', async () => {
    const listener = new StandaloneListener()
    const port = await listener.listen(recordingReceiver(), 0)
    const status = await fetch(`http://127.0.0.1:${port}/status`)
    await status.text()

    await listener.close()

    const server = createServer()
    server.listen(port, '127.0.0.1')
    await once(server, 'listening')
    await new Promise((resolve) => server.close(resolve))
    await assert.rejects(fetch(`http://127.0.0.1:${port}/status`), TypeError)
  })

  test('answers a request that is in flight when close starts', async () => {
    const listener = new StandaloneListener()
    let closing: Promise<void> | undefined
    const port = await listener.listen(() => {
      closing = listener.close()
      return ACCEPTED
    }, 0)

    const response = await postMessage(port, 'hello', { id: 'm-1' })

    assert.equal(response.status, 200)
    assert.equal(await response.text(), '')
    assert.ok(closing !== undefined)
    await closing
    assert.equal(listener.app.server.listening, false)
  })

  test('is idempotent', async () => {
    const listener = new StandaloneListener()
    await listener.listen(recordingReceiver(), 0)

    const first = listener.close()
    const second = listener.close()

    assert.equal(first, second)
    await first
    await listener.close()
  })

  test('resolves for a listener that never listened', async () => {
    const listener = new StandaloneListener()

    await listener.close()

    assert.equal(listener.app.server.listening, false)
  })

  test('waits for a listen that is still binding', async () => {
    const listener = new StandaloneListener()
    const listening = listener.listen(recordingReceiver(), 0)

    await listener.close()

    await listening
    assert.equal(listener.app.server.listening, false)
  })
})

describe('StandaloneListener with a token and a status', () => {
  const TOKEN = 's3cret-standalone-1414213562'

  test('refuses messages without the token on a real server, and keeps /status open with its details', async (t) => {
    const listener = new StandaloneListener({ token: TOKEN, status: () => ({ ready: true }) })
    t.after(() => listener.close())
    const receiver = recordingReceiver()
    const port = await listener.listen(receiver, 0)
    const url = `http://127.0.0.1:${port}/run/hello`
    const post = (authorization?: string) =>
      fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(authorization === undefined ? {} : { authorization }),
        },
        body: JSON.stringify({ id: authorization ?? 'none' }),
      })

    const missing = await post()
    const wrong = await post('Bearer wrong')
    const sameLength = await post(`Bearer ${'y'.repeat(TOKEN.length)}`)
    const right = await post(`Bearer ${TOKEN}`)
    const status = await fetch(`http://127.0.0.1:${port}/status`)

    for (const refused of [missing, wrong, sameLength]) {
      assert.equal(refused.status, 401)
      assert.equal(refused.headers.get(ERROR_CODE_HEADER), ErrorCodes.UNAUTHORIZED)
      assert.equal(await refused.text(), 'missing or invalid token')
    }
    assert.equal(right.status, 200)
    assert.equal(await right.text(), '')
    assert.deepEqual(
      receiver.received.map((message) => message.id),
      [`Bearer ${TOKEN}`],
    )
    assert.equal(status.status, 200)
    assert.deepEqual(await status.json(), { ready: true })
  })

  test('refuses a token or status option of the wrong kind with INVALID_OPTION', () => {
    for (const options of [{ token: '' }, { token: 'a b' }, { status: 'ready' }]) {
      assert.throws(
        () =>
          new StandaloneListener(options as ConstructorParameters<typeof StandaloneListener>[0]),
        { code: ErrorCodes.INVALID_OPTION },
        JSON.stringify(options),
      )
    }
  })
})

describe('new StandaloneListener', () => {
  test('refuses an empty host with INVALID_OPTION', () => {
    assert.throws(() => new StandaloneListener({ host: '' }), { code: ErrorCodes.INVALID_OPTION })
  })

  test('refuses a bodyLimit that is not a positive integer with INVALID_OPTION', () => {
    assert.throws(() => new StandaloneListener({ bodyLimit: 0 }), {
      code: ErrorCodes.INVALID_OPTION,
    })
  })

  test('logs through the given logger, not through Fastify', async (t) => {
    const lines: [string, object, string | undefined][] = []
    const logger = {
      debug: (bindings: object, message?: string) => lines.push(['debug', bindings, message]),
      info: (bindings: object, message?: string) => lines.push(['info', bindings, message]),
      warn: (bindings: object, message?: string) => lines.push(['warn', bindings, message]),
      error: (bindings: object, message?: string) => lines.push(['error', bindings, message]),
      child: () => logger,
    }
    const listener = new StandaloneListener({ logger })
    t.after(() => listener.close())

    const port = await listener.listen(recordingReceiver(), 0)
    const run = await postMessage(port, 'hello', { id: 'm-1' })
    await run.text()

    assert.deepEqual(lines, [
      ['debug', { host: '127.0.0.1', port }, 'listening'],
      ['debug', { messageName: 'hello', messageId: 'm-1', status: 200 }, 'message accepted'],
    ])
  })

  test('refuses a batches option that is not a boolean with INVALID_OPTION', () => {
    for (const batches of ['yes', 1, null]) {
      assert.throws(
        () => new StandaloneListener({ batches } as unknown as StandaloneListenerOptions),
        { code: ErrorCodes.INVALID_OPTION },
        String(batches),
      )
    }
  })
})

describe('StandaloneListener with maxConnections', () => {
  /** A TCP connection that sends nothing; `closed` resolves with what the server wrote. */
  async function idleConnection(
    port: number,
  ): Promise<{ socket: Socket; closed: Promise<string> }> {
    const socket = connect(port, '127.0.0.1')
    socket.setEncoding('utf8')
    let written = ''
    socket.on('data', (chunk: string) => {
      written += chunk
    })
    // A reset is a close too: what matters is that the server ended it.
    socket.on('error', () => {})
    const closed = once(socket, 'close').then(() => written)
    await once(socket, 'connect')
    return { socket, closed }
  }

  test('closes each connection beyond maxConnections at once, without an answer, and serves again once one closes', async (t) => {
    const lines: [string, Record<string, unknown>, string | undefined][] = []
    const record = (level: string) => (fields: object, message?: string) => {
      lines.push([level, fields as Record<string, unknown>, message])
    }
    const logger = {
      debug: () => {},
      info: record('info'),
      warn: record('warn'),
      error: record('error'),
      child: () => logger,
    }
    const listener = new StandaloneListener({ maxConnections: 3, logger })
    const receiver = recordingReceiver()
    const port = await listener.listen(receiver, 0)
    const server = listener.app.server
    const accepted: Socket[] = []
    const threeAccepted = new Promise<void>((resolve) => {
      server.on('connection', (socket: Socket) => {
        if (accepted.push(socket) === 3) resolve()
      })
    })
    const held = [
      await idleConnection(port),
      await idleConnection(port),
      await idleConnection(port),
    ]
    t.after(async () => {
      for (const connection of held) connection.socket.destroy()
      await listener.close()
    })
    await withDeadline(threeAccepted, 5_000, () => 'waited for three connections to be accepted')

    const dropped = once(server, 'drop')
    const fourth = await idleConnection(port)

    await withDeadline(dropped, 5_000, () => 'waited for the fourth connection to be dropped')
    assert.equal(
      await withDeadline(fourth.closed, 5_000, () => 'waited for the fourth connection to close'),
      '',
    )
    assert.equal(accepted.length, 3, 'the fourth never reached the HTTP server')
    assert.deepEqual(
      lines.map(([level, fields, message]) => [
        level,
        fields.maxConnections,
        fields.dropped,
        message,
      ]),
      [['warn', 3, 1, 'connection closed at once: maxConnections are open']],
    )

    held[0]!.socket.destroy()
    await withDeadline(
      once(accepted[0]!, 'close'),
      5_000,
      () => 'waited for the server to see the first connection close',
    )
    const run = await postMessage(port, 'hello', { id: 'after' })

    assert.equal(run.status, 200)
    assert.deepEqual(
      receiver.received.map((message) => message.id),
      ['after'],
    )
  })

  test('keeps 1,024 connections by default', async (t) => {
    const listener = new StandaloneListener()
    t.after(() => listener.close())
    await listener.listen(recordingReceiver(), 0)

    assert.equal(listener.app.server.maxConnections, 1_024)
  })

  test('refuses a maxConnections that is not a positive integer with INVALID_OPTION', () => {
    for (const maxConnections of [0, -1, 2.5, Number.POSITIVE_INFINITY, '3', null]) {
      assert.throws(
        () => new StandaloneListener({ maxConnections } as unknown as StandaloneListenerOptions),
        {
          code: ErrorCodes.INVALID_OPTION,
          message:
            /^The maxConnections option of StandaloneListener must be a positive integer, got /,
        },
        String(maxConnections),
      )
    }
  })
})

describe('StandaloneListener with batches', () => {
  function postBatch(port: number, batch: unknown[]): Promise<Response> {
    return fetch(`http://127.0.0.1:${port}/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(batch),
    })
  }

  test('answers a batch on POST /run with one result per message on a real server', async (t) => {
    const listener = new StandaloneListener()
    t.after(() => listener.close())
    const receiver = recordingReceiver()
    const port = await listener.listen(receiver, 0)

    const response = await postBatch(port, [
      { name: 'users.create', id: 'm-1', payload: { name: 'Will' } },
      { name: 'users.create' },
    ])

    assert.equal(response.status, 200)
    assert.match(String(response.headers.get('content-type')), /^application\/json/)
    assert.deepEqual(await response.json(), [
      { status: 200 },
      { status: 400, code: ErrorCodes.MISSING_ID, error: 'missing message id' },
    ])
    assert.deepEqual(receiver.received, [
      { name: 'users.create', id: 'm-1', payload: { name: 'Will' } },
    ])
  })

  test('with batches: false, answers a batch 404 as the original did', async (t) => {
    const listener = new StandaloneListener({ batches: false })
    t.after(() => listener.close())
    const receiver = recordingReceiver()
    const port = await listener.listen(receiver, 0)

    const response = await postBatch(port, [{ name: 'hello', id: 'm-1' }])

    assert.equal(response.status, 404)
    assert.equal(response.headers.get(ERROR_CODE_HEADER), ErrorCodes.UNKNOWN_MESSAGE)
    assert.equal(await response.text(), "unknown message: ''")
    assert.equal(receiver.received.length, 0)
  })
})
