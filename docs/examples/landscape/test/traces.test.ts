import assert from 'node:assert/strict'
import { once } from 'node:events'
import { after, before, beforeEach, test } from 'node:test'
import { startExoCom } from '@exorelay/exocom'
import { RecordingLogger, withDeadline } from '@exorelay/testing'
import { contract as passwordsContract } from '@exorelay-examples/passwords/src/contract.js'
import { SLOW_PASSWORD } from '@exorelay-examples/passwords/src/hash-password.js'
import { passwordsService } from '@exorelay-examples/passwords/src/passwords-service.js'
import { contract as usersContract } from '@exorelay-examples/users/src/contract.js'
import { usersService } from '@exorelay-examples/users/src/users-service.js'
import { buildApp } from '@exorelay-examples/web/src/app.js'
import { SpanKind, SpanStatusCode } from '@opentelemetry/api'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { ErrorCodes, ExoRelay } from 'exorelay'
import { toSpanRecord } from '../src/span-lines.js'
import { formatTrace } from '../src/trace-trees.js'
import { startTracing } from '../src/tracing.js'
import { SpanRecorder } from './span-recorder.js'

// The three services in one process, on a real bus, traced as trace-to-console.ts traces each
// of them in its own process when the landscape runs with OTEL_TRACES_EXPORTER=console; here
// the spans go to memory.

const recorder = new SpanRecorder()
const passwordsLog = new RecordingLogger()
const usersLog = new RecordingLogger()
const stops: (() => Promise<unknown>)[] = []
let api: string

/** Bus, passwords, users and web on free ports, once for all tests. */
before(async () => {
  const tracing = startTracing(recorder)
  stops.push(() => tracing.stop())
  const bus = await startExoCom({ port: 0, logger: false })
  stops.push(() => bus.close())
  const reach = { exocomHost: '127.0.0.1', exocomPort: bus.port }
  // The services' handler maps, each on a relay of its own, as `exoservice run` would run them,
  // with their contracts.
  const passwords = new ExoRelay({
    serviceName: 'passwords',
    contract: passwordsContract,
    ...reach,
    port: 0,
    logger: passwordsLog,
  }).registerHandlers(passwordsService())
  const users = new ExoRelay({
    serviceName: 'users',
    contract: usersContract,
    ...reach,
    port: 0,
    logger: usersLog,
  }).registerHandlers(usersService())
  stops.push(() => Promise.all([users.close(), passwords.close()]))
  await Promise.all([passwords.listen(), users.listen()])
  const app = await buildApp({ relay: reach })
  stops.push(() => app.close())
  const online = once(app.exorelay, 'online')
  await app.listen({ port: 0, host: '127.0.0.1' })
  await withDeadline(online, 10_000, () => 'web did not go online')
  const { port } = app.server.address() as { port: number }
  api = `http://127.0.0.1:${port}`
})

// The services before the bus, the tracing last: each sees the others withdraw.
after(async () => {
  for (const stop of stops.reverse()) await stop()
})

beforeEach(() => recorder.reset())

function postUser(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
}

function parentOf(span: ReadableSpan | undefined): string | undefined {
  return span?.parentSpanContext?.spanId
}

test('POST /users is one trace: web’s request span, its send, users’ handler, its send, passwords’ handler, each the child of the one before', async () => {
  const response = await postUser(`${api}/users`, { name: 'Will Riker', password: 'secret' })
  assert.equal(response.status, 201)

  const chain = [
    'POST /users',
    'send users.create',
    'process users.create',
    'send passwords.encrypt',
    'process passwords.encrypt',
  ]
  const spans = await recorder.ended([...chain, 'send passwords.encrypted', 'send users.created'])
  const [request, ...hops] = chain.map((name) => spans.get(name)!)
  assert.equal(request!.kind, SpanKind.SERVER)
  assert.equal(parentOf(request), undefined, 'the trace starts at the API')
  assert.equal(request!.attributes['http.route'], '/users')
  assert.equal(request!.attributes['http.response.status_code'], 201)
  let parent = request!
  for (const hop of hops) {
    assert.equal(hop.spanContext().traceId, request!.spanContext().traceId, `${hop.name}'s trace`)
    assert.equal(parentOf(hop), parent.spanContext().spanId, `${hop.name}'s parent`)
    parent = hop
  }

  // As the launcher draws it from the services' lines.
  const trace = recorder.spans.filter(
    (span) => span.spanContext().traceId === request!.spanContext().traceId,
  )
  const names = formatTrace(trace.map((span) => ({ service: '-', span: toSpanRecord(span) }))).map(
    (line) => /^[0-9a-f]{32} {2}- {2}(.*?) +[\d.]+ ms/.exec(line)?.[1],
  )
  assert.deepEqual(names, [
    'POST /users',
    '  send users.create',
    '    process users.create',
    '      send passwords.encrypt',
    '        process passwords.encrypt',
    '          send passwords.encrypted',
    '      send users.created',
  ])
})

test('a traceparent header continues the client’s trace through every service', async () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
  const clientSpan = '00f067aa0ba902b7'
  const response = await postUser(
    `${api}/users`,
    { name: 'Deanna Troi', password: 'imzadi' },
    { traceparent: `00-${traceId}-${clientSpan}-01` },
  )
  assert.equal(response.status, 201)
  const spans = await recorder.ended(['POST /users', 'process passwords.encrypt'])
  assert.equal(parentOf(spans.get('POST /users')), clientSpan)
  assert.equal(spans.get('process passwords.encrypt')!.spanContext().traceId, traceId)
})

test('a request that times out at web stops the work behind it: 504, and passwords and users log that they stopped at the deadline', async () => {
  // The slow password takes 10 s; web waits 2 s, and so, through the deadline, do the others.
  const response = await postUser(`${api}/users?timeout=2000`, {
    name: 'Slow Sam',
    password: SLOW_PASSWORD,
  })
  assert.equal(response.status, 504)
  const answer = (await response.json()) as { error: { code: string } }
  assert.equal(answer.error.code, ErrorCodes.TIMEOUT)

  const stopped = await passwordsLog.waitFor(
    (entry) => entry.message?.startsWith('passwords.encrypt stopped') === true,
    { timeout: 10_000 },
  )
  assert.equal(stopped.level, 'warn')
  assert.equal(stopped.message, 'passwords.encrypt stopped: deadline passed')
  assert.equal(stopped.fields.code, ErrorCodes.TIMEOUT)
  // users' wait for passwords ended at the same deadline: it stops too, and answers nobody.
  await usersLog.waitFor((entry) => entry.message?.startsWith('users.create stopped') === true)
  assert.deepEqual(usersLog.find('handler failed'), [])

  const spans = await recorder.ended([
    'POST /users',
    'process users.create',
    'process passwords.encrypt',
  ])
  const request = spans.get('POST /users')!
  assert.equal(request.attributes['http.response.status_code'], 504)
  assert.equal(request.status.code, SpanStatusCode.ERROR)
  const handler = spans.get('process passwords.encrypt')!
  assert.equal(handler.spanContext().traceId, request.spanContext().traceId)
  // Both handlers returned normally once told to stop: their work was for nobody, and their
  // spans say so, with the deadline as the reason.
  for (const name of ['process users.create', 'process passwords.encrypt']) {
    assert.equal(spans.get(name)!.status.code, SpanStatusCode.ERROR, name)
    assert.equal(spans.get(name)!.attributes['error.type'], ErrorCodes.TIMEOUT, name)
  }
  assert.equal(
    stopped.fields.traceId,
    request.spanContext().traceId,
    'the log line names the trace',
  )
})
