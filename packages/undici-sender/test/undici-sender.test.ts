import assert from 'node:assert/strict'
import { once } from 'node:events'
import type { ServerResponse } from 'node:http'
import { test } from 'node:test'
import { inspect } from 'node:util'
import {
  createEnvelope,
  ErrorCodes,
  TimeoutError,
  type Timers,
  TransportError,
} from '@exorelay/core'
import { ERROR_CODE_HEADER, sendPath } from '@exorelay/http-protocol'
import { ORIGINAL_ERROR_PAGE } from '@exorelay/testing'
import { Agent, type Dispatcher, errors, getGlobalDispatcher, MockAgent } from 'undici'
import { DEFAULT_CONNECTIONS, UndiciSender } from '../src/undici-sender.js'
import {
  answer200,
  closedPort,
  envelope,
  isCode,
  recordingAgent,
  recordingLogger,
  registration,
  SEND,
  startExoCom,
  startSender,
} from './fake-exocom.js'

// --- the wire ---

test('send posts the envelope to /send/<name> with JSON headers and the name only in the URL', async (t) => {
  const exocom = await startExoCom(t)
  const sender = startSender(t, exocom.port)
  await sender.send(envelope(), SEND)
  assert.equal(exocom.requests.length, 1)
  const [request] = exocom.requests
  assert.equal(request?.method, 'POST')
  assert.equal(request?.url, '/send/users.create')
  assert.equal(request?.headers['content-type'], 'application/json')
  assert.equal(request?.headers.accept, 'application/json')
  assert.equal(request?.headers.host, `127.0.0.1:${exocom.port}`)
  assert.deepEqual(JSON.parse(request?.body ?? ''), {
    sender: 'web',
    id: 'id-1',
    payload: { name: 'Will' },
  })
})

test('every payload kind travels as it is, and a missing payload sends no payload key', async (t) => {
  const exocom = await startExoCom(t)
  const sender = startSender(t, exocom.port)
  const payloads: [string, unknown][] = [
    ['none', undefined],
    ['null', null],
    ['an empty object', {}],
    ['a string', 'world'],
    ['an empty string', ''],
    ['an array', [1, 2, 3]],
    ['an empty array', []],
    ['an object', { name: 'world', nested: { list: [true, null] } }],
    ['zero', 0],
    ['false', false],
  ]
  for (const [, payload] of payloads) {
    await sender.send(createEnvelope('hello', 'web', payload), SEND)
  }
  assert.equal(exocom.requests.length, payloads.length)
  payloads.forEach(([kind, payload], index) => {
    const body = JSON.parse(exocom.requests[index]?.body ?? '') as Record<string, unknown>
    if (payload === undefined || payload === null) {
      assert.deepEqual(Object.keys(body).sort(), ['id', 'sender'], kind)
    } else {
      assert.deepEqual(Object.keys(body).sort(), ['id', 'payload', 'sender'], kind)
      assert.deepEqual(body.payload, payload, kind)
    }
    assert.equal(body.sender, 'web', kind)
    assert.equal(typeof body.id, 'string', kind)
  })
})

test('responseTo is sent on replies and absent otherwise', async (t) => {
  const exocom = await startExoCom(t)
  const sender = startSender(t, exocom.port)
  await sender.send(createEnvelope('users.created', 'users', { id: 456 }, 'request-1'), SEND)
  await sender.send(createEnvelope('users.create', 'web', { name: 'Will' }), SEND)
  const [reply, request] = exocom.requests.map((r) => JSON.parse(r.body) as Record<string, unknown>)
  assert.equal(reply?.responseTo, 'request-1')
  assert.deepEqual(Object.keys(reply ?? {}).sort(), ['id', 'payload', 'responseTo', 'sender'])
  assert.equal('responseTo' in (request ?? {}), false)
})

test('names with slashes, spaces, unicode and percent signs are URL-encoded', async (t) => {
  const exocom = await startExoCom(t)
  const sender = startSender(t, exocom.port)
  const names = ['users/create', 'hello world', 'grüße.senden', '100%', 'a?b#c&d=e', '😀']
  for (const name of names) await sender.send(envelope({ name }), SEND)
  assert.deepEqual(
    exocom.requests.map((r) => r.url),
    names.map((name) => `/send/${encodeURIComponent(name)}`),
  )
  assert.equal(exocom.requests[0]?.url, '/send/users%2Fcreate')
  assert.equal(exocom.requests[3]?.url, '/send/100%25')
  assert.deepEqual(
    exocom.requests.map((r) => decodeURIComponent(r.url.slice('/send/'.length))),
    names,
  )
  assert.deepEqual(
    exocom.requests.map((r) => r.url),
    names.map(sendPath),
  )
})

// --- results ---

test('send resolves on any 2xx answer', async (t) => {
  const statuses = [200, 201, 202, 204]
  let next = 0
  const exocom = await startExoCom(t, (_request, res) => {
    res.statusCode = statuses[next++] ?? 500
    res.end()
  })
  const sender = startSender(t, exocom.port)
  for (const _status of statuses) {
    assert.equal(await sender.send(envelope(), SEND), undefined)
  }
  assert.equal(exocom.requests.length, statuses.length)
})

test('a 404 rejects with NO_RECEIVER, the status and the start of the body', async (t) => {
  const exocom = await startExoCom(t, (_request, res) => {
    res.statusCode = 404
    res.end("no receivers for 'users.create'")
  })
  const sender = startSender(t, exocom.port)
  const error = await sender.send(envelope(), SEND).catch((e: unknown) => e)
  assert.ok(error instanceof TransportError)
  assert.equal(error.code, ErrorCodes.NO_RECEIVER)
  assert.equal(error.status, 404)
  assert.equal(
    error.message,
    `No service receives the message 'users.create' (ExoCom answered 404: no receivers for 'users.create'). ExoCom lists its routes at GET http://127.0.0.1:${exocom.port}/config.json: the service that handles it may not be running or not registered yet, or registers no handler for 'users.create'.`,
  )
})

test("the bus's FORBIDDEN refusal is quoted whole (up to 1,000 characters); a 403 without that code stays BUS_REFUSED, cut as any peer's text", async (t) => {
  // The bus's sentence: its fix comes last, well past the 200 characters of a peer's quote.
  const sentence = `${'The registration names a host that is not the address of its connection; '.repeat(4)}Register that address (EXORELAY_ADVERTISED_HOST).`
  const answers: [number, string | undefined, string][] = [
    [403, ErrorCodes.FORBIDDEN, sentence],
    [403, undefined, sentence],
    [403, ErrorCodes.FORBIDDEN, 'x'.repeat(1_500)],
  ]
  let next = 0
  const exocom = await startExoCom(t, (_request, res) => {
    const [status, code, body] = answers[next++] ?? [500, undefined, '']
    res.statusCode = status
    if (code !== undefined) res.setHeader(ERROR_CODE_HEADER, code)
    res.end(body)
  })
  const sender = startSender(t, exocom.port)
  const errors: TransportError[] = []
  for (const _answer of answers) {
    const error = await sender.send(envelope(), SEND).catch((e: unknown) => e)
    assert.ok(error instanceof TransportError)
    errors.push(error)
  }
  const [forbidden, proxy, long] = errors
  assert.equal(forbidden?.code, ErrorCodes.FORBIDDEN)
  assert.equal(forbidden?.status, 403)
  assert.ok(forbidden?.message.endsWith(`${sentence}).`), forbidden?.message)
  // A reverse proxy's 403 is not the bus's refusal of a credential.
  assert.equal(proxy?.code, ErrorCodes.BUS_REFUSED)
  assert.equal(proxy?.status, 403)
  assert.match(
    proxy?.message ?? '',
    /^ExoCom refused the message 'users\.create' \(answered 403: The registration/,
  )
  assert.doesNotMatch(proxy?.message ?? '', /EXORELAY_ADVERTISED_HOST|credential/)
  assert.equal(long?.code, ErrorCodes.FORBIDDEN)
  assert.match(long?.message ?? '', /: x{1000}…\)\.$/)
})

test('the NO_RECEIVER error code header means NO_RECEIVER whatever the status', async (t) => {
  const statuses = [404, 422]
  let next = 0
  const exocom = await startExoCom(t, (_request, res) => {
    res.statusCode = statuses[next++] ?? 500
    res.setHeader(ERROR_CODE_HEADER, ErrorCodes.NO_RECEIVER)
    res.end('nobody')
  })
  const sender = startSender(t, exocom.port)
  for (const status of statuses) {
    const error = await sender.send(envelope(), SEND).catch((e: unknown) => e)
    assert.ok(error instanceof TransportError)
    assert.equal(error.code, ErrorCodes.NO_RECEIVER)
    assert.equal(error.status, status)
    assert.match(error.message, new RegExp(`ExoCom answered ${status}: nobody`))
  }
})

test('a 500 rejects with BUS_REFUSED naming the message, the status and the body', async (t) => {
  const exocom = await startExoCom(t, (_request, res) => {
    res.statusCode = 500
    res.end('Error: routing table is empty')
  })
  const sender = startSender(t, exocom.port)
  const error = await sender.send(envelope(), SEND).catch((e: unknown) => e)
  assert.ok(error instanceof TransportError)
  assert.equal(error.code, ErrorCodes.BUS_REFUSED)
  assert.equal(error.status, 500)
  assert.equal(
    error.message,
    "ExoCom refused the message 'users.create' (answered 500: Error: routing table is empty).",
  )
})

test('an HTML error page with a stack is quoted as its status and first sentence, without tags, stack or paths', async (t) => {
  const exocom = await startExoCom(t, (_request, res) => {
    res.writeHead(500, { 'content-type': 'text/html; charset=utf-8' })
    res.end(ORIGINAL_ERROR_PAGE)
  })
  const sender = startSender(t, exocom.port)
  const failures = await Promise.all([
    sender.send(envelope(), SEND).catch((e: unknown) => e),
    sender.register(registration, SEND).catch((e: unknown) => e),
  ])
  for (const error of failures) {
    assert.ok(error instanceof TransportError)
    assert.equal(error.code, ErrorCodes.BUS_REFUSED)
    assert.equal(error.status, 500)
    assert.match(
      error.message,
      /\(answered 500: TypeError: Cannot read properties of undefined \(reading 'map'\)\)\.$/,
    )
    for (const leak of ['<', '&', '/home/', ' at ', 'client-registry']) {
      assert.ok(!error.message.includes(leak), `${leak} in ${error.message}`)
    }
  }
})

test('an error body is cut to its first 200 characters in the message', async (t) => {
  const exocom = await startExoCom(t, (_request, res) => {
    res.statusCode = 404
    res.end('x'.repeat(10_000))
  })
  const sender = startSender(t, exocom.port)
  const error = await sender.send(envelope(), SEND).catch((e: unknown) => e)
  assert.ok(error instanceof TransportError)
  assert.ok(error.message.includes('x'.repeat(200)))
  assert.ok(!error.message.includes('x'.repeat(201)))
})

test('the connection is reused after an error answer, so its body was consumed', async (t) => {
  let next = 0
  const exocom = await startExoCom(t, (_request, res) => {
    res.statusCode = next++ === 0 ? 500 : 200
    res.end('a small error body')
  })
  const sender = startSender(t, exocom.port, { connections: 1 })
  await assert.rejects(sender.send(envelope(), SEND), isCode(ErrorCodes.BUS_REFUSED))
  await sender.send(envelope(), SEND)
  assert.equal(exocom.requests.length, 2)
  assert.equal(exocom.connections(), 1)
})

test('a refused connection rejects with BUS_UNREACHABLE and keeps the cause', async (t) => {
  const port = await closedPort()
  const sender = startSender(t, port)
  const error = await sender.send(envelope(), SEND).catch((e: unknown) => e)
  assert.ok(error instanceof TransportError)
  assert.equal(error.code, ErrorCodes.BUS_UNREACHABLE)
  assert.equal(error.status, undefined)
  assert.equal((error.cause as { code?: string }).code, 'ECONNREFUSED')
  assert.ok(
    error.message.startsWith(
      `ExoCom at http://127.0.0.1:${port} is unreachable: connect ECONNREFUSED`,
    ),
    error.message,
  )
})

test('a refused connection to localhost names the port even when every address fails', async (t) => {
  const port = await closedPort()
  const sender = new UndiciSender({ exocomPort: port })
  t.after(() => sender.close())
  const error = await sender.send(envelope(), SEND).catch((e: unknown) => e)
  assert.ok(error instanceof TransportError)
  assert.equal(error.code, ErrorCodes.BUS_UNREACHABLE)
  assert.match(
    error.message,
    new RegExp(`^ExoCom at http://localhost:${port} is unreachable: .*ECONNREFUSED`),
  )
})

test('a server that drops the connection without answering rejects with BUS_UNREACHABLE', async (t) => {
  const exocom = await startExoCom(t, (request) => request.socket.destroy())
  const sender = startSender(t, exocom.port)
  const error = await sender.send(envelope(), SEND).catch((e: unknown) => e)
  assert.ok(error instanceof TransportError)
  assert.equal(error.code, ErrorCodes.BUS_UNREACHABLE)
  assert.ok(error.cause instanceof Error)
  // At most once: the message may have arrived, so it is not sent again.
  assert.equal(exocom.requests.length, 1)
})

test('a server that never answers times out with a TimeoutError and the request is dropped', async (t) => {
  const exocom = await startExoCom(t, () => {})
  const sender = startSender(t, exocom.port)
  const arrived = exocom.nextRequest()
  // Long enough for the request to reach the server on a loaded machine before it is dropped.
  const error = await sender.send(envelope(), { timeout: 1_000 }).catch((e: unknown) => e)
  assert.ok(error instanceof TimeoutError)
  assert.equal(error.code, ErrorCodes.TIMEOUT)
  assert.equal(error.timeout, 1_000)
  assert.equal(error.message, "ExoCom did not answer the message 'users.create' within 1000 ms.")
  const request = await arrived
  if (!request.socket.destroyed) await once(request.socket, 'close')
  assert.equal(request.socket.destroyed, true)
})

test('an abort rejects with exactly the signal reason and drops the request', async (t) => {
  const exocom = await startExoCom(t, () => {})
  const sender = startSender(t, exocom.port)
  const controller = new AbortController()
  const reason = new Error('the caller gave up')
  const sent = sender.send(envelope(), { timeout: 60_000, signal: controller.signal })
  const request = await exocom.nextRequest()
  controller.abort(reason)
  await assert.rejects(sent, (error) => error === reason)
  if (!request.socket.destroyed) await once(request.socket, 'close')
  assert.equal(request.socket.destroyed, true)
})

test('an abort with the default reason rejects with that same AbortError', async (t) => {
  const exocom = await startExoCom(t, () => {})
  const sender = startSender(t, exocom.port)
  const controller = new AbortController()
  const sent = sender.send(envelope(), {
    timeout: Number.POSITIVE_INFINITY,
    signal: controller.signal,
  })
  await exocom.nextRequest()
  controller.abort()
  await assert.rejects(sent, (error) => error === controller.signal.reason)
})

test('an already aborted signal rejects with its reason and sends nothing', async (t) => {
  const exocom = await startExoCom(t)
  const sender = startSender(t, exocom.port)
  const reason = new Error('too late')
  await assert.rejects(
    sender.send(envelope({ name: 'never' }), { timeout: 2000, signal: AbortSignal.abort(reason) }),
    (error) => error === reason,
  )
  await sender.send(envelope({ name: 'after' }), SEND)
  assert.deepEqual(
    exocom.requests.map((r) => r.url),
    ['/send/after'],
  )
})

test('an infinite timeout sends without a deadline of its own', async (t) => {
  const exocom = await startExoCom(t)
  const sender = startSender(t, exocom.port)
  await sender.send(envelope(), { timeout: Number.POSITIVE_INFINITY })
  assert.equal(exocom.requests.length, 1)
})

test('a send whose deadline passes while it waits for a pooled connection rejects then and is never written', async (t) => {
  const held: ServerResponse[] = []
  const exocom = await startExoCom(t, (request, res) => {
    if (request.body.includes('"first"')) held.push(res)
    else res.end()
  })
  const sender = startSender(t, exocom.port, { connections: 1 })
  const first = sender.send(envelope({ id: 'first' }), SEND)
  await exocom.nextRequest()
  const error = await sender.send(envelope({ id: 'queued' }), { timeout: 50 }).catch((e) => e)
  assert.ok(error instanceof TimeoutError)
  assert.equal(error.timeout, 50)
  // The one connection frees up only now; the expired request must not use it.
  for (const res of held) res.end()
  await first
  await sender.send(envelope({ id: 'after' }), SEND)
  assert.deepEqual(
    exocom.requests.map((request) => (JSON.parse(request.body) as { id: string }).id),
    ['first', 'after'],
  )
})

test('an abort while the request waits for a pooled connection rejects at once and sends nothing', async (t) => {
  const held: ServerResponse[] = []
  const exocom = await startExoCom(t, (request, res) => {
    if (request.body.includes('"first"')) held.push(res)
    else res.end()
  })
  const sender = startSender(t, exocom.port, { connections: 1 })
  const first = sender.send(envelope({ id: 'first' }), SEND)
  await exocom.nextRequest()
  const controller = new AbortController()
  const reason = new Error('the caller gave up')
  const queued = sender.send(envelope({ id: 'queued' }), { ...SEND, signal: controller.signal })
  controller.abort(reason)
  await assert.rejects(queued, (error) => error === reason)
  for (const res of held) res.end()
  await first
  await sender.send(envelope({ id: 'after' }), SEND)
  assert.deepEqual(
    exocom.requests.map((request) => (JSON.parse(request.body) as { id: string }).id),
    ['first', 'after'],
  )
})

test('an endless error answer is read only as far as the message needs, and its connection closed', async (t) => {
  let closed: Promise<unknown> | undefined
  const exocom = await startExoCom(t, (_request, res) => {
    closed = once(res, 'close')
    // Writing on after the sender hung up fails; that is the point.
    res.on('error', () => {})
    res.writeHead(502, { 'content-type': 'text/html' })
    const pump = (): void => {
      while (!res.destroyed && res.write('<p>'.padEnd(1024, 'x'))) {}
      if (!res.destroyed) res.once('drain', pump)
    }
    pump()
  })
  const sender = startSender(t, exocom.port)
  const error = await sender.send(envelope(), SEND).catch((e: unknown) => e)
  assert.ok(error instanceof TransportError)
  assert.equal(error.code, ErrorCodes.BUS_REFUSED)
  assert.equal(error.status, 502)
  // Its tags stripped (a <p> is a line: the quote ends at the first), its text cut.
  assert.ok(error.message.includes(`answered 502: ${'x'.repeat(200)}…)`), error.message)
  // The sender hung up instead of reading on: the endless answer ends.
  await closed
  assert.equal(exocom.requests.length, 1)
})

test('undici headers and body timeouts never outlive the deadline', async (t) => {
  const exocom = await startExoCom(t)
  const { agent, seen } = recordingAgent(t)
  const sender = startSender(t, exocom.port, { dispatcher: agent })
  // What undici is given is recorded as each send is dispatched; whether a loaded machine
  // answers within 200 ms does not matter here.
  await Promise.allSettled(
    [200, 199.5, 3_600_000, Number.POSITIVE_INFINITY].map((timeout) =>
      sender.send(envelope(), { timeout }),
    ),
  )
  assert.deepEqual(
    seen.map((o) => [o.headersTimeout, o.bodyTimeout]),
    [
      [200, 200],
      [200, 200],
      [300_000, 300_000],
      [undefined, undefined],
    ],
  )
  // The sender aborts through undici's dispatch controller: no AbortSignal per request.
  assert.deepEqual(
    seen.map((o) => (o as { signal?: unknown }).signal),
    [undefined, undefined, undefined, undefined],
  )
})

/** A dispatcher whose every request fails with `cause` before it reaches a socket. */
function failingDispatcher(cause: Error): Dispatcher {
  return {
    dispatch(_options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) {
      queueMicrotask(() => handler.onResponseError?.(undefined as never, cause))
      return true
    },
  } as unknown as Dispatcher
}

test("undici's own headers timeout becomes a TimeoutError with the cause", async (t) => {
  const cause = new errors.HeadersTimeoutError()
  const dispatcher = failingDispatcher(cause)
  const sender = startSender(t, 3100, { dispatcher })
  const error = await sender.send(envelope(), { timeout: 5000 }).catch((e: unknown) => e)
  assert.ok(error instanceof TimeoutError)
  assert.equal(error.code, ErrorCodes.TIMEOUT)
  assert.equal(error.timeout, 5000)
  assert.equal(error.cause, cause)
  assert.match(error.message, /'users\.create' within 5000 ms/)
})

test('any other failure of the dispatcher becomes BUS_UNREACHABLE, never a raw error', async (t) => {
  const cause = new errors.ClientClosedError()
  const dispatcher = failingDispatcher(cause)
  const sender = startSender(t, 3100, { dispatcher })
  const error = await sender.send(envelope(), SEND).catch((e: unknown) => e)
  assert.ok(error instanceof TransportError)
  assert.equal(error.code, ErrorCodes.BUS_UNREACHABLE)
  assert.equal(error.cause, cause)
  assert.ok(
    error.message.startsWith(`ExoCom at http://127.0.0.1:3100 is unreachable: ${cause.message}. `),
    error.message,
  )
})

// --- connections and dispatchers ---

test('two sends reuse one keep-alive connection', async (t) => {
  const exocom = await startExoCom(t)
  const sender = startSender(t, exocom.port, { connections: 1 })
  await sender.send(envelope(), SEND)
  await sender.send(envelope(), SEND)
  assert.equal(exocom.requests.length, 2)
  assert.equal(exocom.connections(), 1)
})

test('the default pool keeps its connections alive across many sequential sends', async (t) => {
  const exocom = await startExoCom(t)
  const sender = startSender(t, exocom.port)
  for (let i = 0; i < 10; i++) await sender.send(envelope(), SEND)
  assert.equal(exocom.requests.length, 10)
  // undici's Pool learns that a connection is free from a 'drain' event one microtask after
  // the answer, so a send awaited back to back may open a second connection; never more.
  assert.ok(exocom.connections() <= 2, `${exocom.connections()} connections`)
})

test('a custom dispatcher receives the request and the global dispatcher is untouched', async (t) => {
  const globalBefore = getGlobalDispatcher()
  const mock = new MockAgent()
  mock.disableNetConnect()
  t.after(() => mock.close())
  let body: unknown
  mock
    .get('http://exocom.test:3100')
    .intercept({
      path: '/send/users.create',
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: (text: string) => {
        body = JSON.parse(text)
        return true
      },
    })
    .reply(200, '')
  const sender = new UndiciSender({ exocomHost: 'exocom.test', exocomPort: 3100, dispatcher: mock })
  t.after(() => sender.close())
  await sender.send(envelope(), SEND)
  mock.assertNoPendingInterceptors()
  assert.deepEqual(body, { sender: 'web', id: 'id-1', payload: { name: 'Will' } })
  assert.equal(getGlobalDispatcher(), globalBefore)
})

test('the own pool leaves the global dispatcher untouched', async (t) => {
  const globalBefore = getGlobalDispatcher()
  const exocom = await startExoCom(t)
  const sender = startSender(t, exocom.port)
  await sender.send(envelope(), SEND)
  await sender.close()
  assert.equal(getGlobalDispatcher(), globalBefore)
  assert.equal(exocom.requests.length, 1)
})

test('close() leaves a given dispatcher open', async (t) => {
  const exocom = await startExoCom(t)
  const agent = new Agent()
  t.after(() => agent.close())
  const sender = new UndiciSender({
    exocomHost: '127.0.0.1',
    exocomPort: exocom.port,
    dispatcher: agent,
  })
  await sender.send(envelope(), SEND)
  await sender.close()
  const response = await agent.request({
    origin: `http://127.0.0.1:${exocom.port}`,
    path: '/status',
    method: 'GET',
  })
  await response.body.dump()
  assert.equal(response.statusCode, 200)
  assert.equal(exocom.requests.length, 2)
})

// --- self-registration ---

test('register PUTs the registration to /services/<name> and resolves registered on 2xx', async (t) => {
  const exocom = await startExoCom(t)
  const sender = startSender(t, exocom.port)
  assert.equal(await sender.register(registration, SEND), 'registered')
  const [request] = exocom.requests
  assert.equal(request?.method, 'PUT')
  assert.equal(request?.url, '/services/users')
  assert.equal(request?.headers['content-type'], 'application/json')
  assert.equal(request?.headers.accept, 'application/json')
  assert.deepEqual(JSON.parse(request?.body ?? ''), registration)
})

test('register resolves unsupported on 404 and 405 (a bus without the extension)', async (t) => {
  const statuses = [404, 405]
  let next = 0
  const exocom = await startExoCom(t, (_request, res) => {
    res.statusCode = statuses[next++] ?? 500
    res.end('Cannot PUT /services/users')
  })
  const sender = startSender(t, exocom.port)
  assert.equal(await sender.register(registration, SEND), 'unsupported')
  assert.equal(await sender.register(registration, SEND), 'unsupported')
  assert.equal(exocom.requests.length, 2)
})

test('register rejects with BUS_REFUSED on a 500', async (t) => {
  const exocom = await startExoCom(t, (_request, res) => {
    res.statusCode = 500
    res.end('boom')
  })
  const sender = startSender(t, exocom.port)
  const error = await sender.register(registration, SEND).catch((e: unknown) => e)
  assert.ok(error instanceof TransportError)
  assert.equal(error.code, ErrorCodes.BUS_REFUSED)
  assert.equal(error.status, 500)
  assert.equal(
    error.message,
    "ExoCom refused the registration of the service 'users' (answered 500: boom).",
  )
})

test('register rejects with BUS_UNREACHABLE when ExoCom is down', async (t) => {
  const sender = startSender(t, await closedPort())
  await assert.rejects(sender.register(registration, SEND), isCode(ErrorCodes.BUS_UNREACHABLE))
})

test('deregister DELETEs /services/<name> and resolves on 200, 404 and 405', async (t) => {
  const statuses = [200, 404, 405]
  let next = 0
  const exocom = await startExoCom(t, (_request, res) => {
    res.statusCode = statuses[next++] ?? 500
    res.end()
  })
  const sender = startSender(t, exocom.port)
  for (const _status of statuses) {
    assert.equal(await sender.deregister('users/eu', SEND), undefined)
  }
  const [request] = exocom.requests
  assert.equal(request?.method, 'DELETE')
  assert.equal(request?.url, '/services/users%2Feu')
  assert.equal(request?.body, '')
  assert.equal(request?.headers['content-type'], undefined)
  assert.equal(exocom.requests.length, 3)
})

test('deregister rejects with BUS_REFUSED on a 500', async (t) => {
  const exocom = await startExoCom(t, (_request, res) => {
    res.statusCode = 500
    res.end()
  })
  const sender = startSender(t, exocom.port)
  const error = await sender.deregister('users', SEND).catch((e: unknown) => e)
  assert.ok(error instanceof TransportError)
  assert.equal(error.code, ErrorCodes.BUS_REFUSED)
  assert.equal(error.status, 500)
  assert.equal(
    error.message,
    "ExoCom refused the deregistration of the service 'users' (answered 500).",
  )
})

// --- lifecycle ---

test('after close() send, register and deregister reject with ClosedError', async (t) => {
  const exocom = await startExoCom(t)
  const sender = startSender(t, exocom.port)
  await sender.close()
  await assert.rejects(sender.send(envelope(), SEND), isCode(ErrorCodes.CLOSED))
  await assert.rejects(sender.register(registration, SEND), isCode(ErrorCodes.CLOSED))
  await assert.rejects(sender.deregister('users', SEND), isCode(ErrorCodes.CLOSED))
  assert.equal(exocom.requests.length, 0)
})

test('close() lets a request in flight finish before it resolves', async (t) => {
  let release: (() => void) | undefined
  const exocom = await startExoCom(t, (_request, res) => {
    release = () => res.end()
  })
  const sender = startSender(t, exocom.port)
  const order: string[] = []
  const sent = sender.send(envelope(), SEND).then(() => order.push('sent'))
  await exocom.nextRequest()
  const closed = sender.close().then(() => order.push('closed'))
  await assert.rejects(sender.send(envelope(), SEND), isCode(ErrorCodes.CLOSED))
  release?.()
  await Promise.all([sent, closed])
  assert.deepEqual(order, ['sent', 'closed'])
})

test('close() with a given dispatcher still waits for the requests in flight', async (t) => {
  let release: (() => void) | undefined
  const exocom = await startExoCom(t, (_request, res) => {
    release = () => res.end()
  })
  const agent = new Agent()
  t.after(() => agent.close())
  const sender = startSender(t, exocom.port, { dispatcher: agent })
  const order: string[] = []
  const sent = sender.send(envelope(), SEND).then(() => order.push('sent'))
  await exocom.nextRequest()
  const closed = sender.close().then(() => order.push('closed'))
  release?.()
  await Promise.all([sent, closed])
  assert.deepEqual(order, ['sent', 'closed'])
})

test('close() is idempotent', async (t) => {
  const exocom = await startExoCom(t)
  const sender = startSender(t, exocom.port)
  await sender.send(envelope(), SEND)
  const first = sender.close()
  assert.equal(sender.close(), first)
  await first
  await sender.close()
})

// --- logging ---

test('each answered send logs one debug line with name, id, responseTo and status', async (t) => {
  let next = 0
  const exocom = await startExoCom(t, (_request, res) => {
    res.statusCode = next++ === 0 ? 200 : 500
    res.end()
  })
  const logger = recordingLogger()
  const sender = startSender(t, exocom.port, { logger })
  await sender.send(envelope({ id: 'm-1', responseTo: 'r-1' }), SEND)
  await assert.rejects(sender.send(envelope({ id: 'm-2' }), SEND), isCode(ErrorCodes.BUS_REFUSED))
  assert.deepEqual(
    logger.lines.map(({ level, bindings }) => ({ level, bindings })),
    [
      {
        level: 'debug',
        bindings: { messageName: 'users.create', messageId: 'm-1', responseTo: 'r-1', status: 200 },
      },
      {
        level: 'debug',
        bindings: {
          messageName: 'users.create',
          messageId: 'm-2',
          responseTo: undefined,
          status: 500,
        },
      },
    ],
  )
})

test('a failed connection logs nothing but its retries: the relay logs failures', async (t) => {
  const logger = recordingLogger()
  const sender = startSender(t, await closedPort(), { logger })
  await assert.rejects(sender.send(envelope(), SEND), isCode(ErrorCodes.BUS_UNREACHABLE))
  assert.ok(logger.lines.length > 0)
  for (const line of logger.lines) {
    assert.equal(line.level, 'debug')
    assert.deepEqual(Object.keys(line.bindings), ['attempt', 'retryIn', 'err'])
  }
  const withoutRetries = recordingLogger()
  const single = startSender(t, await closedPort(), { logger: withoutRetries, retryBudget: 0 })
  await assert.rejects(single.send(envelope(), SEND), isCode(ErrorCodes.BUS_UNREACHABLE))
  assert.deepEqual(withoutRetries.lines, [])
})

test('a logger with debug disabled is not asked to log', async (t) => {
  const exocom = await startExoCom(t)
  const logger = Object.assign(recordingLogger(), { isLevelEnabled: () => false })
  const sender = startSender(t, exocom.port, { logger })
  await sender.send(envelope(), SEND)
  assert.deepEqual(logger.lines, [])
  assert.equal(exocom.requests.length, 1)
})

// --- options and arguments ---

test('the origin defaults to localhost and brackets IPv6 addresses', () => {
  assert.equal(new UndiciSender({ exocomPort: 3100 }).origin, 'http://localhost:3100')
  assert.equal(
    new UndiciSender({ exocomHost: 'exocom', exocomPort: 80 }).origin,
    'http://exocom:80',
  )
  assert.equal(
    new UndiciSender({ exocomHost: '::1', exocomPort: 3100 }).origin,
    'http://[::1]:3100',
  )
  assert.equal(DEFAULT_CONNECTIONS, 16)
})

test('a missing exocomPort throws MISSING_OPTION', () => {
  assert.throws(
    () => new UndiciSender({} as ConstructorParameters<typeof UndiciSender>[0]),
    isCode(ErrorCodes.MISSING_OPTION),
  )
  assert.throws(
    () => new UndiciSender(undefined as unknown as ConstructorParameters<typeof UndiciSender>[0]),
    isCode(ErrorCodes.MISSING_OPTION),
  )
})

test('invalid options throw INVALID_OPTION with the value quoted', () => {
  const invalid: unknown[] = [
    { exocomPort: 'zonk' },
    { exocomPort: 0 },
    { exocomPort: 70_000 },
    { exocomPort: 3100.5 },
    { exocomPort: 3100, exocomHost: '' },
    { exocomPort: 3100, connections: 0 },
    { exocomPort: 3100, dispatcher: {} },
  ]
  for (const options of invalid) {
    assert.throws(
      () => new UndiciSender(options as ConstructorParameters<typeof UndiciSender>[0]),
      isCode(ErrorCodes.INVALID_OPTION),
      JSON.stringify(options),
    )
  }
  assert.throws(() => new UndiciSender({ exocomPort: 'zonk' as unknown as number }), /got 'zonk'/)
})

test('exocomPort follows the one rule of every port option: a numeric string reads as its number', async (t) => {
  const sender = new UndiciSender({ exocomPort: '3100' as unknown as number })
  t.after(() => sender.close())
  assert.equal(sender.origin, 'http://localhost:3100')
})

test('an invalid timeout or signal rejects with INVALID_OPTION and sends nothing', async (t) => {
  const exocom = await startExoCom(t)
  const sender = startSender(t, exocom.port)
  for (const timeout of [0, -1, Number.NaN, '2000']) {
    await assert.rejects(
      sender.send(envelope(), { timeout } as unknown as { timeout: number }),
      isCode(ErrorCodes.INVALID_OPTION),
    )
  }
  await assert.rejects(
    sender.send(envelope(), { timeout: 2000, signal: {} as AbortSignal }),
    isCode(ErrorCodes.INVALID_OPTION),
  )
  assert.equal(exocom.requests.length, 0)
})

test('a payload JSON cannot carry rejects with INVALID_PAYLOAD and sends nothing', async (t) => {
  const exocom = await startExoCom(t)
  const sender = startSender(t, exocom.port)
  const circular: Record<string, unknown> = {}
  circular.self = circular
  await assert.rejects(
    sender.send(envelope({ payload: circular }), SEND),
    isCode(ErrorCodes.INVALID_PAYLOAD),
  )
  await assert.rejects(
    sender.send(envelope({ payload: { big: 1n } }), SEND),
    isCode(ErrorCodes.INVALID_PAYLOAD),
  )
  await assert.rejects(sender.send(envelope({ name: '' }), SEND), isCode(ErrorCodes.INVALID_NAME))
  await assert.rejects(
    sender.register({ ...registration, name: '' }, SEND),
    isCode(ErrorCodes.INVALID_OPTION),
  )
  assert.equal(exocom.requests.length, 0)
})

// --- retrying refused connections ---

/**
 * Timers the test fires by hand. `scheduled(n)` resolves once `n` timers were set in all, or
 * rejects saying how many were when they are not within `timeout` ms of real time.
 */
function manualTimers(): Timers & {
  delays: number[]
  pending: () => number
  scheduled: (count: number, timeout?: number) => Promise<void>
  fire: (index?: number) => void
} {
  const callbacks = new Map<number, () => void>()
  const delays: number[] = []
  const waiters: { count: number; resolve: () => void }[] = []
  return {
    delays,
    pending: () => callbacks.size,
    setTimeout(callback, milliseconds) {
      delays.push(milliseconds)
      const handle = delays.length
      callbacks.set(handle, callback)
      for (const waiter of waiters.filter((w) => delays.length >= w.count)) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve()
      }
      return handle
    },
    clearTimeout(handle: number) {
      callbacks.delete(handle)
    },
    scheduled(count, timeout = 10_000) {
      if (delays.length >= count) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const waiter = {
          count,
          resolve: (): void => {
            clearTimeout(timer)
            resolve()
          },
        }
        // A real, unref'd timer: the deadline must never keep the test process alive.
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1)
          reject(
            new Error(
              `scheduled(${count}): ${delays.length} timer(s) were set within ${timeout} ms`,
            ),
          )
        }, timeout)
        timer.unref()
        waiters.push(waiter)
      })
    },
    /** Fires the timer set as number `index` (1-based), or every pending one. */
    fire(index) {
      for (const [handle, callback] of callbacks) {
        if (index !== undefined && handle !== index) continue
        callbacks.delete(handle)
        callback()
      }
    },
  }
}

/** Timers whose every delay is one turn of the event loop. */
const immediateTimers: Timers = {
  setTimeout: (callback) => setImmediate(callback),
  clearTimeout: (handle) => clearImmediate(handle),
}

/** A dispatcher that fails or answers 200 as scripted, one entry per request. */
function scriptedDispatcher(script: (Error | 'ok')[]): Dispatcher & { calls: () => number } {
  let calls = 0
  const dispatcher = {
    calls: () => calls,
    dispatch(_options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) {
      const step = script[calls++] ?? new Error('the script has ended')
      const controller = { abort() {}, pause() {}, resume() {}, aborted: false, paused: false }
      const socket = controller as unknown as Dispatcher.DispatchController
      queueMicrotask(() => {
        if (step !== 'ok') {
          handler.onResponseError?.(socket, step)
          return
        }
        handler.onRequestStart?.(socket, {})
        handler.onResponseStart?.(socket, 200, {}, 'OK')
        handler.onResponseEnd?.(socket, {})
      })
      return true
    },
  }
  return dispatcher as unknown as Dispatcher & { calls: () => number }
}

function systemError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:3100`), { code })
}

test('a refused connection is retried, and the send succeeds once ExoCom listens', async (t) => {
  const port = await closedPort()
  const timers = manualTimers()
  const logger = recordingLogger()
  const sender = startSender(t, port, { timers, logger })
  const sent = sender.send(envelope(), { timeout: Number.POSITIVE_INFINITY })

  await timers.scheduled(1) // the first attempt was refused
  timers.fire()
  await timers.scheduled(2) // so was the second
  const exocom = await startExoCom(t, answer200, port)
  timers.fire()
  await sent

  assert.equal(exocom.requests.length, 1)
  assert.equal(exocom.requests[0]?.url, '/send/users.create')
  assert.equal(sender.reachable, true)
  const retries = logger.lines
    .filter((line) => line.message === 'ExoCom refused the connection; retrying')
    .map(({ bindings }) => bindings as Record<string, unknown>)
  assert.equal(logger.lines.at(-1)?.message, 'ExoCom answered')
  assert.deepEqual(
    retries.map((line) => line.attempt),
    [1, 2],
  )
  assert.deepEqual(
    retries.map((line) => line.retryIn),
    timers.delays,
  )
  const [first, second] = timers.delays
  assert.ok(first !== undefined && first >= 20 && first <= 30, `first retry in ${first} ms`)
  assert.ok(second !== undefined && second >= 40 && second <= 60, `second retry in ${second} ms`)
  assert.equal((retries[0]?.err as { code?: string } | undefined)?.code, 'ECONNREFUSED')
})

test('a bus that never comes up rejects with BUS_UNREACHABLE once the retry budget is spent', async (t) => {
  const logger = recordingLogger()
  const port = await closedPort()
  const sender = startSender(t, port, { logger, retryBudget: 200 })

  const error = await sender.send(envelope(), SEND).catch((e: unknown) => e)

  assert.ok(error instanceof TransportError)
  assert.equal(error.code, ErrorCodes.BUS_UNREACHABLE)
  assert.equal((error.cause as { code?: string }).code, 'ECONNREFUSED')
  const attempts = Number(/ \((\d+) attempts\)\. Start the bus/.exec(error.message)?.[1])
  assert.ok(attempts >= 2, error.message)
  assert.ok(error.message.startsWith(`ExoCom at http://127.0.0.1:${port} is unreachable:`))
  // It ends with what to do, naming the host and port in use.
  assert.ok(
    error.message.endsWith(
      `Start the bus (npx exocom --port ${port}), or set EXOCOM_HOST and EXOCOM_PORT (the exocomHost and exocomPort options) to where it runs: they are '127.0.0.1' and ${port} now.`,
    ),
    error.message,
  )
  assert.deepEqual(
    logger.lines.map(({ bindings }) => (bindings as { attempt: number }).attempt),
    Array.from({ length: attempts - 1 }, (_, index) => index + 1),
  )
  assert.equal(sender.reachable, false)
})

test('retryBudget 0 sends once and says so', async (t) => {
  const logger = recordingLogger()
  const sender = startSender(t, await closedPort(), { logger, retryBudget: 0 })

  const error = await sender.send(envelope(), SEND).catch((e: unknown) => e)

  assert.ok(error instanceof TransportError)
  assert.equal(error.code, ErrorCodes.BUS_UNREACHABLE)
  assert.match(error.message, / \(1 attempt\)\. Start the bus/)
  assert.deepEqual(logger.lines, [])
})

test('a server that closes the connection after reading the request sees it once: no retry', async (t) => {
  const exocom = await startExoCom(t, (request) => request.socket.destroy())
  const logger = recordingLogger()
  const sender = startSender(t, exocom.port, { logger })

  const error = await sender.send(envelope(), SEND).catch((e: unknown) => e)

  assert.ok(error instanceof TransportError)
  assert.equal(error.code, ErrorCodes.BUS_UNREACHABLE)
  assert.doesNotMatch(error.message, /attempt/)
  assert.equal(exocom.requests.length, 1)
  assert.equal(exocom.connections(), 1)
  assert.deepEqual(logger.lines, [])
  assert.equal(sender.reachable, false)
})

test('a deadline shorter than the retry budget rejects with a TimeoutError and stops retrying', async (t) => {
  const timers = manualTimers()
  const logger = recordingLogger()
  const sender = startSender(t, await closedPort(), { timers, logger })
  const sent = sender.send(envelope(), { timeout: 60 })

  await timers.scheduled(2) // the deadline, then the first backoff
  assert.equal(timers.delays[0], 60)
  timers.fire(1) // the deadline passes during the backoff
  const error = await sent.catch((e: unknown) => e)

  assert.ok(error instanceof TimeoutError)
  assert.equal(error.code, ErrorCodes.TIMEOUT)
  assert.equal(error.timeout, 60)
  assert.equal((error.cause as { code?: string }).code, 'ECONNREFUSED')
  assert.match(
    error.message,
    /^ExoCom did not answer the message 'users\.create' within 60 ms: 1 attempt to connect failed \(connect ECONNREFUSED/,
  )
  assert.equal(timers.pending(), 0)
  assert.equal(logger.lines.length, 1)
})

test('an abort while waiting to retry rejects with the signal reason and tries no more', async (t) => {
  const timers = manualTimers()
  const dispatcher = scriptedDispatcher([systemError('ECONNREFUSED'), 'ok'])
  const sender = startSender(t, 3100, { timers, dispatcher })
  const controller = new AbortController()
  const reason = new Error('the caller gave up')
  const sent = sender.send(envelope(), {
    timeout: Number.POSITIVE_INFINITY,
    signal: controller.signal,
  })

  await timers.scheduled(1)
  controller.abort(reason)

  await assert.rejects(sent, (error) => error === reason)
  assert.equal(dispatcher.calls(), 1)
  assert.equal(timers.pending(), 0)
})

test('close() while a send waits to retry rejects that send with CLOSED and resolves', async (t) => {
  const timers = manualTimers()
  const dispatcher = scriptedDispatcher([systemError('ECONNREFUSED'), 'ok'])
  const sender = startSender(t, 3100, { timers, dispatcher })
  const sent = sender.send(envelope(), { timeout: Number.POSITIVE_INFINITY })

  await timers.scheduled(1)
  const closed = sender.close()

  await assert.rejects(sent, isCode(ErrorCodes.CLOSED))
  await closed
  assert.equal(dispatcher.calls(), 1)
  assert.equal(timers.pending(), 0)
})

test('connect timeouts and refusals of every address are retried', async (t) => {
  const refusedTwice = new AggregateError([
    systemError('ECONNREFUSED'),
    systemError('ECONNREFUSED'),
  ])
  const dispatcher = scriptedDispatcher([new errors.ConnectTimeoutError(), refusedTwice, 'ok'])
  const sender = startSender(t, 3100, { timers: immediateTimers, dispatcher })

  await sender.send(envelope(), { timeout: Number.POSITIVE_INFINITY })

  assert.equal(dispatcher.calls(), 3)
  assert.equal(sender.reachable, true)
})

test('failures that may follow a written request are never retried', async (t) => {
  const failures = [
    new errors.SocketError('other side closed'),
    systemError('ECONNRESET'),
    systemError('EPIPE'),
    systemError('ENOTFOUND'),
    new AggregateError([systemError('ECONNREFUSED'), systemError('ECONNRESET')]),
  ]
  for (const failure of failures) {
    const dispatcher = scriptedDispatcher([failure, 'ok'])
    const sender = startSender(t, 3100, { timers: immediateTimers, dispatcher })
    const error = await sender.send(envelope(), SEND).catch((e: unknown) => e)
    assert.ok(error instanceof TransportError, String(failure))
    assert.equal(error.code, ErrorCodes.BUS_UNREACHABLE)
    assert.equal(error.cause, failure)
    assert.equal(dispatcher.calls(), 1, String(failure))
  }
})

test('register and deregister retry refused connections too', async (t) => {
  const dispatcher = scriptedDispatcher([
    systemError('ECONNREFUSED'),
    'ok',
    systemError('ECONNREFUSED'),
    'ok',
  ])
  const sender = startSender(t, 3100, { timers: immediateTimers, dispatcher })

  // No deadline timer: these timers fire every delay at once.
  const endless = { timeout: Number.POSITIVE_INFINITY }
  assert.equal(await sender.register(registration, endless), 'registered')
  await sender.deregister('users', endless)

  assert.equal(dispatcher.calls(), 4)
})

// --- reachable ---

test('reachable is undefined before any request, true after any answer, false after BUS_UNREACHABLE', async (t) => {
  let next = 0
  const exocom = await startExoCom(t, (_request, res) => {
    res.statusCode = next++ === 0 ? 500 : 200
    res.end()
  })
  const sender = startSender(t, exocom.port)
  assert.equal(sender.reachable, undefined)
  await assert.rejects(sender.send(envelope(), SEND), isCode(ErrorCodes.BUS_REFUSED))
  assert.equal(sender.reachable, true)

  const flaky = startSender(t, 3100, {
    retryBudget: 0,
    dispatcher: scriptedDispatcher(['ok', systemError('ECONNRESET'), 'ok']),
  })
  await flaky.send(envelope(), SEND)
  assert.equal(flaky.reachable, true)
  await assert.rejects(flaky.send(envelope(), SEND), isCode(ErrorCodes.BUS_UNREACHABLE))
  assert.equal(flaky.reachable, false)
  await flaky.send(envelope(), SEND)
  assert.equal(flaky.reachable, true)
})

// --- the shared secret ---

const TOKEN = 's3cret-token-4815162342'

test('with a token, send, register and deregister carry authorization: Bearer <token>', async (t) => {
  const exocom = await startExoCom(t)
  const sender = startSender(t, exocom.port, { token: TOKEN })
  const plain = startSender(t, exocom.port)

  await sender.send(envelope(), SEND)
  await sender.register(registration, SEND)
  await sender.deregister('users', SEND)
  await plain.send(envelope(), SEND)

  assert.deepEqual(
    exocom.requests.map((r) => [r.method, r.headers.authorization]),
    [
      ['POST', `Bearer ${TOKEN}`],
      ['PUT', `Bearer ${TOKEN}`],
      ['DELETE', `Bearer ${TOKEN}`],
      ['POST', undefined],
    ],
  )
  assert.equal(exocom.requests[0]?.headers['content-type'], 'application/json')
  assert.equal(exocom.requests[2]?.headers['content-type'], undefined)
})

test('a 401 from ExoCom rejects with BUS_REFUSED, and the token is in no error or log line', async (t) => {
  const exocom = await startExoCom(t, (_request, res) => {
    res.statusCode = 401
    res.setHeader(ERROR_CODE_HEADER, ErrorCodes.UNAUTHORIZED)
    res.end('missing or invalid token')
  })
  const logger = recordingLogger()
  const sender = startSender(t, exocom.port, { token: TOKEN, logger })
  const down = startSender(t, await closedPort(), { token: TOKEN, logger, retryBudget: 100 })

  const failures = [
    await sender.send(envelope(), SEND).catch((e: unknown) => e),
    await sender.register(registration, SEND).catch((e: unknown) => e),
    await sender.deregister('users', SEND).catch((e: unknown) => e),
    await down.send(envelope(), SEND).catch((e: unknown) => e),
  ]

  assert.deepEqual(
    failures.map((error) => [(error as TransportError).code, (error as TransportError).status]),
    [
      [ErrorCodes.BUS_REFUSED, 401],
      [ErrorCodes.BUS_REFUSED, 401],
      [ErrorCodes.BUS_REFUSED, 401],
      [ErrorCodes.BUS_UNREACHABLE, undefined],
    ],
  )
  assert.match((failures[0] as Error).message, /answered 401: missing or invalid token/)
  assert.equal(sender.reachable, true)
  assert.ok(logger.lines.length > 0)
  const everything = inspect([failures, logger.lines], { depth: 10, showHidden: true })
  assert.ok(!everything.includes(TOKEN), 'the token leaked')
})

test('a 401 from ExoCom is told to onUnauthorized once per mismatch, with the fix, until ExoCom takes the token again', async (t) => {
  let refuse = true
  const exocom = await startExoCom(t, (_request, res) => {
    if (refuse) {
      res.statusCode = 401
      res.setHeader(ERROR_CODE_HEADER, ErrorCodes.UNAUTHORIZED)
    }
    res.end(refuse ? 'missing or invalid token' : '')
  })
  const told: TransportError[] = []
  const sender = startSender(t, exocom.port, {
    token: TOKEN,
    onUnauthorized: (error) => told.push(error),
  })
  const without = startSender(t, exocom.port, { onUnauthorized: (error) => told.push(error) })
  const refusal = (promise: Promise<unknown>) =>
    promise.then(
      () => assert.fail('ExoCom took it'),
      (error: TransportError) => [error.code, error.status],
    )

  assert.equal(sender.unauthorized, false)
  assert.deepEqual(
    [
      await refusal(sender.register(registration, SEND)),
      await refusal(sender.send(envelope(), SEND)),
      await refusal(sender.send(envelope({ id: 'id-2' }), SEND)),
    ],
    Array(3).fill([ErrorCodes.BUS_REFUSED, 401]),
  )
  assert.equal(sender.unauthorized, true)
  assert.equal(told.length, 1, 'once for three refusals')
  assert.ok(told[0] instanceof TransportError)
  assert.equal(told[0].code, ErrorCodes.UNAUTHORIZED)
  assert.equal(told[0].status, 401)
  assert.equal(
    told[0].message,
    `ExoCom at ${sender.origin} refused this relay's token (401). Give the relay the token ExoCom expects: the installation's shared EXOCOM_TOKEN, or, when ExoCom has per-service credentials (--credentials), this service's token from its credentials file (EXOCOM_TOKEN, the token option).`,
  )
  await refusal(without.send(envelope(), SEND))
  assert.match(told[1]?.message ?? '', /wants a token and this relay sends none \(401\)/)

  refuse = false
  await sender.send(envelope({ id: 'id-3' }), SEND)
  assert.equal(sender.unauthorized, false)
  refuse = true
  await refusal(sender.send(envelope({ id: 'id-4' }), SEND))
  assert.equal(told.length, 3, 'a new mismatch after the token was taken is told again')
  assert.ok(!inspect(told, { depth: 10, showHidden: true }).includes(TOKEN), 'the token leaked')
})

test('an invalid token throws INVALID_OPTION without quoting the value', () => {
  const invalid: unknown[] = ['', 'two words', 'tab\tinside', ' padded', 'grüße', 42, null, {}]
  for (const token of invalid) {
    assert.throws(
      () => new UndiciSender({ exocomPort: 3100, token: token as string }),
      (error: unknown) => {
        assert.equal((error as { code?: string }).code, ErrorCodes.INVALID_OPTION)
        const message = (error as Error).message
        assert.match(message, /^The token option must be/)
        if (typeof token === 'string' && token !== '') assert.ok(!message.includes(token))
        if (typeof token === 'number') assert.ok(!message.includes('42'))
        return true
      },
      String(token),
    )
  }
})

test('invalid retryBudget, timers or onUnauthorized options throw INVALID_OPTION', () => {
  const invalid: unknown[] = [
    { retryBudget: -1 },
    { retryBudget: Number.NaN },
    { retryBudget: Number.POSITIVE_INFINITY },
    { retryBudget: '1000' },
    { timers: {} },
    { timers: { setTimeout } },
    { onUnauthorized: 'log it' },
  ]
  for (const options of invalid) {
    assert.throws(
      () => new UndiciSender({ exocomPort: 3100, ...(options as object) }),
      isCode(ErrorCodes.INVALID_OPTION),
      inspect(options),
    )
  }
})

test('acceptsNoToken asks the bus without a token: a 401 means it checks tokens, and the probe is no refusal of this sender', async (t) => {
  let checks = true
  const seen: { url?: string | undefined; authorization?: string | undefined }[] = []
  const exocom = await startExoCom(t, (request, res) => {
    seen.push({ url: request.url, authorization: request.headers.authorization })
    res.statusCode = checks ? 401 : 404
    res.end()
  })
  const told: TransportError[] = []
  const sender = startSender(t, exocom.port, {
    token: TOKEN,
    onUnauthorized: (error) => told.push(error),
  })

  assert.equal(await sender.acceptsNoToken(5_000), false)
  checks = false
  assert.equal(await sender.acceptsNoToken(5_000), true)

  assert.deepEqual(seen, [
    { url: '/exorelay/token-probe', authorization: undefined },
    { url: '/exorelay/token-probe', authorization: undefined },
  ])
  assert.equal(sender.unauthorized, false)
  assert.deepEqual(told, [])
})
