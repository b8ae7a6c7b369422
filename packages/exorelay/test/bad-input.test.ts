import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  MockExoCom,
  openRawConnection,
  type RawAnswer,
  rawHttpClient,
  requestStarted,
  withDeadline,
} from '@exorelay/testing'
import { ErrorCodes, ExoRelay, type ExoRelayOptions, type HandlerContext } from '../src/index.js'

// Bad input, tried for real: a real relay on 127.0.0.1 (standalone listener, port 0), talking
// to a MockExoCom, gets malformed and hostile requests over real sockets. Each case must get
// its coded 4xx, and the relay must go on serving and hold nothing afterwards.

type After = { after: (fn: () => Promise<unknown>) => void }

interface Received {
  name: string
  id: string
  responseTo: string | undefined
  payload: unknown
}

/** A promise with its resolve function, to hold a handler until the test lets it go. */
function deferred<T = void>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((res) => {
    resolve = res
  })
  return { promise, resolve }
}

const IDLE = { state: 'online', pendingReplies: 0, runningHandlers: 0, queuedMessages: 0 }

/** The relay's state and load from `status()`, without what it saw of the bus. */
function loadOf(relay: ExoRelay) {
  const { state, pendingReplies, runningHandlers, queuedMessages } = relay.status()
  return { state, pendingReplies, runningHandlers, queuedMessages }
}

/**
 * A relay `users` with recording handlers for `hello` and a few odd names, listening on a free
 * port; a raw client of it. All closed after the test.
 */
async function startRelay(t: After, options: Partial<ExoRelayOptions> = {}) {
  const exocom = new MockExoCom()
  const exocomPort = await exocom.listen()
  const relay = new ExoRelay({
    serviceName: 'users',
    exocomPort,
    port: 0,
    logger: false,
    register: false,
    ...options,
  })
  const received: Received[] = []
  const record = (payload: unknown, { name, id, responseTo }: HandlerContext) => {
    received.push({ name, id, responseTo, payload })
  }
  for (const name of ['hello', 'a/b', 'users create', 'grüße.✓']) {
    relay.registerHandler(name, record)
  }
  const port = await relay.listen()
  const client = rawHttpClient(`http://127.0.0.1:${port}`)
  t.after(async () => {
    await client.close()
    await relay.close()
    await exocom.close()
  })
  const post = client.post

  /** Posts a JSON message to `/run/<encoded name>`. */
  function run(name: string, body: unknown): Promise<RawAnswer> {
    return post(`/run/${encodeURIComponent(name)}`, JSON.stringify(body))
  }

  let checks = 0
  /** A valid message is still accepted and reaches its handler. */
  async function assertServing(label: string): Promise<void> {
    const id = `still-serving-${++checks}`
    const answer = await run('hello', { id, payload: label })
    assert.equal(answer.status, 200, `${label}: the next valid message, ${answer.text}`)
    assert.ok(
      received.some((message) => message.id === id),
      `${label}: the handler got the next message`,
    )
  }

  return { relay, exocom, port, received, post, run, assertServing }
}

/** Headers that promise 1,000 bytes of body, and the first 10 of them. */
const STALLING_REQUEST =
  'POST /run/hello HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n' +
  'content-length: 1000\r\n\r\n{"id":"sl'

describe('bad input at a real relay', () => {
  test('each bad request gets its 4xx with a code, and the relay keeps serving and holds nothing', async (t) => {
    const { relay, post, run, received, assertServing } = await startRelay(t)
    const cases: Array<{
      what: string
      send: () => Promise<RawAnswer>
      status: number
      code: string
    }> = [
      {
        what: 'malformed JSON',
        send: () => post('/run/hello', '{"id": "m-1",'),
        status: 400,
        code: ErrorCodes.INVALID_MESSAGE,
      },
      {
        what: 'a non-JSON content type',
        send: () => post('/run/hello', 'id=m-1', 'text/plain'),
        status: 415,
        code: ErrorCodes.INVALID_MESSAGE,
      },
      {
        what: 'no content type',
        send: () => post('/run/hello', '{"id":"m-1"}', null),
        status: 415,
        code: ErrorCodes.INVALID_MESSAGE,
      },
      {
        what: 'an empty body',
        send: () => post('/run/hello', ''),
        status: 400,
        code: ErrorCodes.MISSING_ID,
      },
      {
        what: 'a body over the 1 MiB limit',
        send: () => run('hello', { id: 'm-big', payload: 'x'.repeat(1_048_576) }),
        status: 413,
        code: ErrorCodes.INVALID_MESSAGE,
      },
      {
        what: 'a missing id',
        send: () => run('hello', { payload: 1 }),
        status: 400,
        code: ErrorCodes.MISSING_ID,
      },
      {
        what: 'an empty id',
        send: () => run('hello', { id: '' }),
        status: 400,
        code: ErrorCodes.MISSING_ID,
      },
      {
        what: 'a number as id',
        send: () => run('hello', { id: 42 }),
        status: 400,
        code: ErrorCodes.INVALID_MESSAGE,
      },
      {
        what: 'an object as id',
        send: () => run('hello', { id: { value: 'm-1' } }),
        status: 400,
        code: ErrorCodes.INVALID_MESSAGE,
      },
      {
        what: 'an id of 10,000 characters',
        send: () => run('hello', { id: 'i'.repeat(10_000) }),
        status: 400,
        code: ErrorCodes.INVALID_MESSAGE,
      },
      {
        what: 'an empty name',
        send: () => post('/run/', '{"id":"m-1"}'),
        status: 404,
        code: ErrorCodes.UNKNOWN_MESSAGE,
      },
      {
        what: 'a name of 10 KB',
        send: () => run('n'.repeat(10_240), { id: 'm-1' }),
        status: 404,
        code: ErrorCodes.UNKNOWN_MESSAGE,
      },
      {
        what: 'a reply to an unknown id whose name has no handler',
        send: () => run('users.created', { id: 'r-1', responseTo: 'nobody-waits' }),
        status: 404,
        code: ErrorCodes.UNKNOWN_MESSAGE,
      },
      {
        what: "a '__proto__' and a 'constructor.prototype' key in the payload",
        send: () =>
          post(
            '/run/hello',
            '{"id":"p-1","payload":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}}',
          ),
        status: 400,
        code: ErrorCodes.INVALID_MESSAGE,
      },
      {
        what: "a 'constructor.prototype' key alone",
        send: () =>
          post('/run/hello', '{"id":"p-2","payload":{"constructor":{"prototype":{"polluted":1}}}}'),
        status: 400,
        code: ErrorCodes.INVALID_MESSAGE,
      },
    ]

    for (const { what, send, status, code } of cases) {
      const answer = await send()
      assert.equal(answer.status, status, `${what}: ${answer.text}`)
      assert.equal(answer.code, code, what)
      assert.match(answer.text, /\S/, `${what}: the body says why`)
      assert.doesNotMatch(answer.text, /\n\s+at /, `${what}: no stack`)
      await assertServing(what)
    }

    // None of the refused messages reached a handler; only the checks did.
    assert.ok(received.every((message) => message.id.startsWith('still-serving-')))
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
    assert.deepEqual(loadOf(relay), IDLE)
  })

  test('odd but valid names arrive decoded at their handlers', async (t) => {
    const { relay, post, run, received, assertServing } = await startRelay(t)

    const answers = [
      await post('/run/a%2Fb', '{"id":"n-1"}'),
      await run('users create', { id: 'n-2' }),
      await run('grüße.✓', { id: 'n-3' }),
    ]

    assert.deepEqual(
      answers.map((answer) => answer.status),
      [200, 200, 200],
    )
    assert.deepEqual(
      received.map((message) => [message.id, message.name]),
      [
        ['n-1', 'a/b'],
        ['n-2', 'users create'],
        ['n-3', 'grüße.✓'],
      ],
    )
    await assertServing('odd names')
    assert.deepEqual(loadOf(relay), IDLE)
  })

  test('a reply to an unknown id falls back to the handler registered for its name', async (t) => {
    const { relay, run, received, assertServing } = await startRelay(t)

    const answer = await run('hello', { id: 'r-2', responseTo: 'nobody-waits', payload: 'late' })

    assert.equal(answer.status, 200)
    assert.deepEqual(received, [
      { name: 'hello', id: 'r-2', responseTo: 'nobody-waits', payload: 'late' },
    ])
    await assertServing('unknown responseTo')
    assert.deepEqual(loadOf(relay), IDLE)
  })

  test("a plain 'constructor' key reaches the handler exactly as sent and pollutes nothing", async (t) => {
    const { relay, post, received, assertServing } = await startRelay(t)
    const prototypeKeys = Object.getOwnPropertyNames(Object.prototype)

    // JSON.parse makes such keys own data properties; only '__proto__' and
    // 'constructor.prototype' are refused (the 400s above).
    const answer = await post(
      '/run/hello',
      '{"id":"c-1","payload":{"constructor":{"polluted":true},"toString":"x","prototype":{"polluted":true}}}',
    )

    assert.equal(answer.status, 200, answer.text)
    const payload = received[0]?.payload as Record<string, unknown>
    assert.deepEqual(Object.keys(payload), ['constructor', 'toString', 'prototype'])
    assert.deepEqual(payload.constructor, { polluted: true })
    assert.equal(payload.toString, 'x')
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
    assert.deepEqual(Object.getOwnPropertyNames(Object.prototype), prototypeKeys)
    await assertServing('constructor key')
    assert.deepEqual(loadOf(relay), IDLE)
  })

  test('an array nested 100,000 deep is parsed without a stack overflow and handed to the handler', async (t) => {
    const { relay, post, received, assertServing } = await startRelay(t)
    const depth = 100_000
    const body = `{"id":"deep-1","payload":${'['.repeat(depth)}${']'.repeat(depth)}}`

    const answer = await post('/run/hello', body)

    // V8's JSON.parse does not recurse, and the relay only hands the value on: accepted.
    assert.equal(answer.status, 200, answer.text)
    let level = received[0]?.payload
    let measured = 0
    while (Array.isArray(level)) {
      measured++
      level = level[0]
    }
    assert.equal(measured, depth)
    await assertServing('deep nesting')
    assert.deepEqual(loadOf(relay), IDLE)
  })
})

describe('floods at a real relay', () => {
  test('1,000 concurrent messages to a slow handler: 20 accepted, 980 refused 503 OVERLOADED, the 20 complete once released', async (t) => {
    const release = deferred()
    const allDone = deferred()
    let started = 0
    let completed = 0
    const { relay, run, assertServing } = await startRelay(t, { concurrency: 10, maxQueued: 10 })
    relay.registerHandler('slow', async () => {
      started++
      await release.promise
      completed++
      if (completed === 20) allDone.resolve()
    })

    const answers = await Promise.all(
      Array.from({ length: 1_000 }, (_, index) => run('slow', { id: `slow-${index}` })),
    )

    const byStatus = new Map<number, RawAnswer[]>()
    for (const answer of answers) {
      byStatus.set(answer.status, [...(byStatus.get(answer.status) ?? []), answer])
    }
    assert.deepEqual([...byStatus.keys()].sort(), [200, 503])
    assert.equal(byStatus.get(200)?.length, 20)
    assert.equal(byStatus.get(503)?.length, 980)
    for (const refused of byStatus.get(503) ?? []) {
      assert.equal(refused.code, ErrorCodes.OVERLOADED)
      assert.match(refused.text, /overloaded: 10 handlers running, 10 messages queued/)
    }
    assert.equal(started, 10)
    assert.deepEqual(loadOf(relay), { ...IDLE, runningHandlers: 10, queuedMessages: 10 })

    release.resolve()
    await allDone.promise
    // The queue counts a handler as finished in the promise callbacks after it returns.
    await new Promise((resolve) => setImmediate(resolve))

    assert.equal(completed, 20)
    assert.deepEqual(loadOf(relay), IDLE)
    await assertServing('after the flood')
    assert.deepEqual(loadOf(relay), IDLE)
  })

  test('100 replies to one request: the first resolves the send, the other 99 get 404, nothing stays pending', async (t) => {
    const { relay, exocom, run, assertServing } = await startRelay(t)
    const sent = relay.send('users.create', { name: 'Will' }, { timeout: 60_000 })
    const request = await exocom.waitForMessage('users.create')
    assert.equal(request.id, sent.id)
    assert.equal(relay.status().pendingReplies, 1)

    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, index) =>
        run('users.created', { id: `reply-${index}`, responseTo: sent.id, payload: index }),
      ),
    )

    const accepted = answers.flatMap((answer, index) => (answer.status === 200 ? [index] : []))
    assert.equal(accepted.length, 1)
    const refused = answers.filter((answer) => answer.status === 404)
    assert.equal(refused.length, 99)
    for (const answer of refused) {
      assert.equal(answer.code, ErrorCodes.UNKNOWN_MESSAGE)
      assert.equal(answer.text, "unknown message: 'users.created'")
    }
    assert.equal(await sent, accepted[0])
    assert.deepEqual(loadOf(relay), IDLE)
    await assertServing('after the reply flood')
    assert.deepEqual(loadOf(relay), IDLE)
  })
})

describe('slow clients at a real relay', () => {
  // The deadline catches a server that waits far longer than requestTimeout (Node's 60 s).
  test('a client that stalls halfway through its body or headers is cut off with 408, while others are served', {
    timeout: 20_000,
  }, async (t) => {
    const { relay, port, run, received, assertServing } = await startRelay(t, {
      // 2 s: the other client is served before the cut, even on a loaded machine.
      requestTimeout: 2_000,
    })
    const body = await openRawConnection(port, { signal: t.signal })
    const headers = await openRawConnection(port, { signal: t.signal })
    let cutOff = 0
    for (const connection of [body, headers]) void connection.closed.then(() => cutOff++)
    const bodyStarted = requestStarted(body.socket)

    // Slowloris: promise 1,000 bytes of body, send 10, then nothing.
    body.socket.write(STALLING_REQUEST)
    // And one that never finishes its headers.
    headers.socket.write('POST /run/hello HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-le')
    await bodyStarted
    const meanwhile = await run('hello', { id: 'meanwhile' })

    assert.equal(meanwhile.status, 200)
    assert.equal(cutOff, 0, 'the slow connections are still open while another client is served')
    for (const written of [await body.closed, await headers.closed]) {
      assert.match(written, /^HTTP\/1\.1 408 Request Timeout\r\n/)
      assert.match(written, /\r\nexorelay-error-code: EXORELAY_ERR_PROTOCOL_INVALID_MESSAGE\r\n/)
      assert.match(written, /\r\n\r\nthe request was not complete within 2000 ms$/)
    }
    assert.deepEqual(
      received.map((message) => message.id),
      ['meanwhile'],
    )
    await assertServing('after slow clients')
    assert.deepEqual(loadOf(relay), IDLE)
  })

  test('bytes that are not HTTP get 400 and headers over the size limit 431, in plain text with a code', async (t) => {
    const { relay, port, assertServing } = await startRelay(t)
    const garbage = await openRawConnection(port, { signal: t.signal })
    const oversized = await openRawConnection(port, { signal: t.signal })

    garbage.socket.write('HELLO THERE\r\n\r\n')
    oversized.socket.write(
      `POST /run/hello HTTP/1.1\r\nhost: 127.0.0.1\r\nx-big: ${'x'.repeat(20_000)}\r\n\r\n`,
    )

    const answers = [await garbage.closed, await oversized.closed]
    assert.match(
      answers[0]!,
      /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*\r\n\r\nthe request is not valid HTTP$/,
    )
    assert.match(
      answers[1]!,
      /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n[\s\S]*\r\n\r\nthe request headers are larger than the limit$/,
    )
    for (const answer of answers) {
      assert.match(answer, /\r\nexorelay-error-code: EXORELAY_ERR_PROTOCOL_INVALID_MESSAGE\r\n/)
    }
    await assertServing('after bytes that are not HTTP')
    assert.deepEqual(loadOf(relay), IDLE)
  })

  test('close() does not wait for ever for a client that stalls: its connection is cut one requestTimeout later', {
    timeout: 10_000,
  }, async (t) => {
    const { relay, port } = await startRelay(t, { requestTimeout: 500 })
    const stalled = await openRawConnection(port, { signal: t.signal })
    const started = requestStarted(stalled.socket)
    stalled.socket.write(STALLING_REQUEST)
    await started

    await relay.close()

    await stalled.closed
    assert.equal(stalled.socket.destroyed, true)
    assert.equal(relay.status().state, 'closed')
  })

  test('connections beyond maxConnections are closed at once without an answer, and requests work again once one closes', {
    timeout: 10_000,
  }, async (t) => {
    const { relay, port, assertServing } = await startRelay(t, { maxConnections: 3 })
    // Three connections that send nothing and stay open: all the listener takes.
    const held = [
      await openRawConnection(port, { signal: t.signal }),
      await openRawConnection(port, { signal: t.signal }),
      await openRawConnection(port, { signal: t.signal }),
    ]

    const fourth = await openRawConnection(port, { signal: t.signal })
    const written = await withDeadline(
      fourth.closed,
      5_000,
      () => 'waited for the fourth connection to be closed',
    )

    assert.equal(written, '', 'closed without an answer')
    assert.equal(fourth.socket.destroyed, true)
    assert.deepEqual(
      held.map((connection) => connection.socket.destroyed),
      [false, false, false],
    )
    // One of the three leaves: the server closes it after this answer, so its slot is free
    // by the time this side sees the close.
    held[0]!.socket.write('GET /status HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n')
    assert.match(
      await withDeadline(held[0]!.closed, 5_000, () => 'waited for the status answer'),
      /^HTTP\/1\.1 200 OK\r\n/,
    )
    await assertServing('once a connection closed')
    for (const connection of held) connection.socket.destroy()
    assert.deepEqual(loadOf(relay), IDLE)
  })

  test('a maxConnections that is not a positive integer is refused with INVALID_OPTION', () => {
    for (const maxConnections of [0, -1, 1.5, Number.POSITIVE_INFINITY, '3' as unknown as number]) {
      assert.throws(
        () => new ExoRelay({ serviceName: 'users', exocomPort: 1, maxConnections, logger: false }),
        { code: ErrorCodes.INVALID_OPTION, message: /maxConnections/ },
        String(maxConnections),
      )
    }
  })

  test('a requestTimeout that is not an integer of at least 0 is refused with INVALID_OPTION', () => {
    for (const requestTimeout of [-1, 1.5, Number.NaN, '300' as unknown as number]) {
      assert.throws(
        () => new ExoRelay({ serviceName: 'users', exocomPort: 1, requestTimeout, logger: false }),
        { code: ErrorCodes.INVALID_OPTION },
        String(requestTimeout),
      )
    }
  })
})
