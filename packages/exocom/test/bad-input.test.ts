import assert from 'node:assert/strict'
import { describe, type TestContext, test } from 'node:test'
import { ErrorCodes, isExoRelayError } from '@exorelay/core'
import { openRawConnection, type RawAnswer, rawHttpClient, requestStarted } from '@exorelay/testing'
import { type ExoComOptions, startExoCom } from '../src/exocom.js'
import { type Behaviour, type RecordedRun, serviceOf, startBus, startReceiver } from './helpers.js'

// Bad input, tried for real against the bus: the cases that exocom.test.ts ('bad input gets a
// 4xx with a plain-text sentence and a code, and the bus keeps serving') does not try yet,
// plus floods and slow clients. Each must get its coded 4xx, and the bus must keep routing.

/**
 * A bus with one receiver, `users`, for `users.create` and a few odd names, and a raw client
 * of the bus. All closed after the test.
 */
async function startLandscape(
  t: TestContext,
  options: ExoComOptions = {},
  behaviour: Behaviour | ((run: RecordedRun) => Behaviour) = 'ok',
) {
  const users = await startReceiver(t, 'users', behaviour)
  const web = await startReceiver(t, 'web')
  const { exocom, log } = await startBus(t, {
    services: [serviceOf(users, ['users.create', 'grüße.✓']), serviceOf(web, [])],
    ...options,
  })
  const client = rawHttpClient(exocom.url)
  t.after(() => client.close())
  const post = client.post

  /** Posts a JSON message to `/send/<encoded name>`. */
  function send(name: string, body: unknown): Promise<RawAnswer> {
    return post(`/send/${encodeURIComponent(name)}`, JSON.stringify(body))
  }

  let checks = 0
  /** A valid message is still routed and reaches its receiver. */
  async function assertServing(label: string): Promise<void> {
    const id = `still-serving-${++checks}`
    const answer = await send('users.create', { sender: 'web', id })
    assert.equal(answer.status, 200, `${label}: the next valid message, ${answer.text}`)
    const runs = await users.waitForRuns(users.runs.length + 1)
    assert.ok(
      runs.some((run) => (run.body as { id?: unknown }).id === id),
      `${label}: the receiver got the next message`,
    )
  }

  return { exocom, log, users, web, post, send, assertServing }
}

/** Headers that promise 1,000 bytes of body, and the first 10 of them. */
const STALLING_REQUEST =
  'POST /send/users.create HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n' +
  'content-length: 1000\r\n\r\n{"id":"sl'

describe('bad input at the bus', () => {
  test('each bad request not tried elsewhere gets its 4xx with a code, and the bus keeps routing', async (t) => {
    const { post, send, users, assertServing } = await startLandscape(t)
    const cases: Array<{
      what: string
      send: () => Promise<RawAnswer>
      status: number
      code: string
    }> = [
      {
        what: 'an empty body',
        send: () => post('/send/users.create', ''),
        status: 400,
        code: ErrorCodes.INVALID_MESSAGE,
      },
      {
        what: 'no content type',
        send: () => post('/send/users.create', '{"sender":"web","id":"m-1"}', null),
        status: 415,
        code: ErrorCodes.INVALID_MESSAGE,
      },
      {
        what: 'an empty id',
        send: () => send('users.create', { sender: 'web', id: '' }),
        status: 400,
        code: ErrorCodes.MISSING_ID,
      },
      {
        what: 'an object as id',
        send: () => send('users.create', { sender: 'web', id: { value: 'm-1' } }),
        status: 400,
        code: ErrorCodes.INVALID_MESSAGE,
      },
      {
        what: 'an id of 10,000 characters',
        send: () => send('users.create', { sender: 'web', id: 'i'.repeat(10_000) }),
        status: 400,
        code: ErrorCodes.INVALID_MESSAGE,
      },
      {
        what: 'an empty sender',
        send: () => send('users.create', { sender: '', id: 'm-1' }),
        status: 400,
        code: ErrorCodes.INVALID_MESSAGE,
      },
      {
        what: 'a name of 10 KB',
        send: () => send('n'.repeat(10_240), { sender: 'web', id: 'm-1' }),
        status: 404,
        code: ErrorCodes.UNKNOWN_MESSAGE,
      },
      {
        what: "a '__proto__' and a 'constructor.prototype' key in the payload",
        send: () =>
          post(
            '/send/users.create',
            '{"sender":"web","id":"p-1","payload":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}}',
          ),
        status: 400,
        code: ErrorCodes.INVALID_MESSAGE,
      },
      {
        what: "a 'constructor.prototype' key alone",
        send: () =>
          post(
            '/send/users.create',
            '{"sender":"web","id":"p-2","payload":{"constructor":{"prototype":{"polluted":1}}}}',
          ),
        status: 400,
        code: ErrorCodes.INVALID_MESSAGE,
      },
    ]

    for (const { what, send: sendCase, status, code } of cases) {
      const answer = await sendCase()
      assert.equal(answer.status, status, `${what}: ${answer.text}`)
      assert.equal(answer.code, code, what)
      assert.match(answer.text, /\S/, `${what}: the body says why`)
      assert.doesNotMatch(answer.text, /\n\s+at /, `${what}: no stack`)
      await assertServing(what)
    }

    // Only the checks were routed.
    assert.ok(
      users.runs.every((run) => String((run.body as { id?: unknown }).id).startsWith('still-')),
    )
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
  })

  test('a unicode name is routed, URL-encoded on to the receiver and decoded there', async (t) => {
    const { send, users, assertServing } = await startLandscape(t)

    const answer = await send('grüße.✓', { sender: 'web', id: 'u-1' })

    assert.equal(answer.status, 200)
    const [run] = await users.waitForRuns(1)
    assert.equal(run?.url, '/run/gr%C3%BC%C3%9Fe.%E2%9C%93')
    assert.equal(run?.name, 'grüße.✓')
    await assertServing('unicode name')
  })

  test('a reply to an id the bus never routed goes by its name only', async (t) => {
    const { send, users, web, assertServing } = await startLandscape(t)

    const answer = await send('users.create', {
      sender: 'web',
      id: 'r-1',
      responseTo: 'never-routed',
    })

    assert.equal(answer.status, 200)
    const [run] = await users.waitForRuns(1)
    assert.deepEqual(run?.body, { id: 'r-1', responseTo: 'never-routed' })
    await assertServing('unknown responseTo')
    assert.equal(web.runs.length, 0)
  })

  test("a plain 'constructor' key is delivered exactly as sent and pollutes nothing", async (t) => {
    const { post, users, assertServing } = await startLandscape(t)
    const prototypeKeys = Object.getOwnPropertyNames(Object.prototype)

    const answer = await post(
      '/send/users.create',
      '{"sender":"web","id":"c-1","payload":{"constructor":{"polluted":true},"prototype":{"polluted":true}}}',
    )

    assert.equal(answer.status, 200, answer.text)
    const [run] = await users.waitForRuns(1)
    assert.deepEqual(run?.body, {
      id: 'c-1',
      payload: { constructor: { polluted: true }, prototype: { polluted: true } },
    })
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
    assert.deepEqual(Object.getOwnPropertyNames(Object.prototype), prototypeKeys)
    await assertServing('constructor key')
  })

  test('an array nested 100,000 deep that cannot be forwarded is refused with 400 before anything is delivered', async (t) => {
    const { post, users, assertServing } = await startLandscape(t)
    const depth = 100_000
    const body = `{"sender":"web","id":"deep-1","payload":${'['.repeat(depth)}${']'.repeat(depth)}}`

    const answer = await post('/send/users.create', body)

    // V8's JSON.parse does not recurse, so the body parses; JSON.stringify does recurse, so
    // the bus cannot write it on to the receiver. It learns that before it answers the sender.
    assert.equal(answer.status, 400, answer.text)
    assert.equal(answer.code, ErrorCodes.INVALID_MESSAGE)
    assert.match(answer.text, /^The body of the message 'users\.create' cannot be forwarded: /)
    assert.match(answer.text, /Maximum call stack size exceeded/)
    await assertServing('deep nesting')
    assert.ok(users.runs.every((run) => (run.body as { id?: unknown }).id !== 'deep-1'))
  })
})

describe('floods at the bus', () => {
  test('1,000 concurrent sends to a hanging receiver are all routed, the bus keeps answering, and all arrive once it recovers', {
    timeout: 30_000,
  }, async (t) => {
    let recovered = false
    const { exocom, send, users, log, assertServing } = await startLandscape(
      t,
      // Deliveries wait in the pool while the receiver hangs: no deadline may end them first.
      { deliveryTimeout: 25_000 },
      () => (recovered ? 'ok' : 'hang'),
    )

    const answers = await Promise.all(
      Array.from({ length: 1_000 }, (_, index) =>
        send('users.create', { sender: 'web', id: `flood-${index}` }),
      ),
    )
    const status = await fetch(`${exocom.url}/status`)

    assert.ok(answers.every((answer) => answer.status === 200))
    assert.equal(status.status, 200)
    recovered = true
    users.release()
    const runs = await users.waitForRuns(1_000)
    const ids = new Set(runs.map((run) => (run.body as { id: string }).id))
    assert.equal(ids.size, 1_000)
    await assertServing('after the flood')
    assert.deepEqual(log.at('warn'), [])
  })

  test('100 replies to one request are each routed to the requester: the bus does not deduplicate', async (t) => {
    const { send, users, web, log, assertServing } = await startLandscape(t)
    assert.equal((await send('users.create', { sender: 'web', id: 'req-1' })).status, 200)
    await users.waitForRuns(1)

    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, index) =>
        send('users.created', { sender: 'users', id: `reply-${index}`, responseTo: 'req-1' }),
      ),
    )

    assert.ok(answers.every((answer) => answer.status === 200))
    const runs = await web.waitForRuns(100)
    assert.equal(new Set(runs.map((run) => (run.body as { id: string }).id)).size, 100)
    assert.ok(runs.every((run) => run.name === 'users.created'))
    await assertServing('after the reply flood')
    assert.deepEqual(log.at('warn'), [])
  })
})

describe('slow clients at the bus', () => {
  test('a client that stalls halfway through its body or headers is cut off with 408, while others are served', {
    timeout: 20_000,
  }, async (t) => {
    // 2 s: the other client is served before the cut, even on a loaded machine.
    const { exocom, users, assertServing } = await startLandscape(t, { requestTimeout: 2_000 })
    const body = await openRawConnection(exocom.port, { signal: t.signal })
    const headers = await openRawConnection(exocom.port, { signal: t.signal })
    let cutOff = 0
    for (const connection of [body, headers]) void connection.closed.then(() => cutOff++)
    const bodyStarted = requestStarted(body.socket)

    // Slowloris: promise 1,000 bytes of body, send 10, then nothing.
    body.socket.write(STALLING_REQUEST)
    // And one that never finishes its headers.
    headers.socket.write('POST /send/users.create HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-le')
    await bodyStarted
    await assertServing('while slow clients hold connections')

    assert.equal(cutOff, 0, 'the slow connections are still open while another client is served')
    for (const written of [await body.closed, await headers.closed]) {
      assert.match(written, /^HTTP\/1\.1 408 Request Timeout\r\n/)
      assert.match(written, /\r\nexorelay-error-code: EXORELAY_ERR_PROTOCOL_INVALID_MESSAGE\r\n/)
      assert.match(written, /\r\n\r\nThe request was not complete within 2000 ms\.$/)
    }
    assert.ok(users.runs.every((run) => (run.body as { id?: unknown }).id !== 'sl'))
    await assertServing('after slow clients')
  })

  test('bytes that are not HTTP get 400 and headers over the size limit 431, in plain text with a code', async (t) => {
    const { exocom, assertServing } = await startLandscape(t)
    const garbage = await openRawConnection(exocom.port, { signal: t.signal })
    const oversized = await openRawConnection(exocom.port, { signal: t.signal })

    garbage.socket.write('HELLO THERE\r\n\r\n')
    oversized.socket.write(
      `POST /send/users.create HTTP/1.1\r\nhost: 127.0.0.1\r\nx-big: ${'x'.repeat(20_000)}\r\n\r\n`,
    )

    const answers = [await garbage.closed, await oversized.closed]
    assert.match(
      answers[0]!,
      /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*\r\n\r\nThe request is not valid HTTP\.$/,
    )
    assert.match(
      answers[1]!,
      /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n[\s\S]*\r\n\r\nThe request headers are larger than the limit\.$/,
    )
    for (const answer of answers) {
      assert.match(answer, /\r\nexorelay-error-code: EXORELAY_ERR_PROTOCOL_INVALID_MESSAGE\r\n/)
    }
    await assertServing('after bytes that are not HTTP')
  })

  test('close() does not wait for ever for a client that stalls: its connection is cut one requestTimeout later', {
    timeout: 10_000,
  }, async (t) => {
    const { exocom } = await startLandscape(t, { requestTimeout: 500 })
    const stalled = await openRawConnection(exocom.port, { signal: t.signal })
    const started = requestStarted(stalled.socket)
    stalled.socket.write(STALLING_REQUEST)
    await started

    await exocom.close()

    await stalled.closed
    assert.equal(stalled.socket.destroyed, true)
  })

  test('a requestTimeout that is not an integer of at least 0 rejects with INVALID_OPTION', async () => {
    for (const requestTimeout of [-1, 1.5, Number.NaN, '300' as unknown as number]) {
      await assert.rejects(
        startExoCom({ port: 0, logger: false, requestTimeout }),
        (error) => isExoRelayError(error, ErrorCodes.INVALID_OPTION),
        String(requestTimeout),
      )
    }
  })
})
