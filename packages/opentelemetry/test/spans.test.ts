import assert from 'node:assert/strict'
import { once } from 'node:events'
import { after, before, type TestContext, test } from 'node:test'
import { MemoryBus, Relay, RemoteHandlerError, TimeoutError } from '@exorelay/core'
import { deferred, withDeadline } from '@exorelay/testing'
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { ExoRelayInstrumentation } from '../src/index.js'
import { startTelemetry } from './telemetry.js'

// The spans and metrics of one request through three services on the in-memory bus: web
// sends users.create from inside an HTTP request's span, users asks passwords, and each hop's
// span is the child of the one before, as OpenTelemetry's messaging conventions name them.

let telemetry: ReturnType<typeof startTelemetry>
before(() => {
  telemetry = startTelemetry()
})
after(() => telemetry.stop())

function landscape(t: TestContext) {
  telemetry.exporter.reset()
  const bus = new MemoryBus()
  const relay = (serviceName: string) => {
    const created = new Relay({ serviceName, transport: bus.transport(), timeout: 2_000 })
    t.after(() => created.close())
    return created
  }
  return relay
}

function parentOf(span: ReadableSpan | undefined): string | undefined {
  return span?.parentSpanContext?.spanId
}

function get(spans: Map<string, ReadableSpan>, name: string): ReadableSpan {
  const span = spans.get(name)
  assert.ok(span, `no span '${name}' among ${[...spans.keys()].join(', ')}`)
  return span
}

test('one request is one trace: every send and every handler a span, each the child of the hop before', async (t) => {
  const relay = landscape(t)
  let activeInHandler: string | undefined
  const passwords = relay('passwords').registerHandler('passwords.encrypt', (pw, { reply }) => {
    reply('passwords.encrypted', `hashed ${pw}`)
  })
  const users = relay('users').registerHandler('users.create', async (user, ctx) => {
    activeInHandler = trace.getActiveSpan()?.spanContext().spanId
    await ctx.send('passwords.encrypt', (user as { password: string }).password)
    ctx.reply('users.created', { id: 1 })
  })
  const web = relay('web')
  await Promise.all([passwords.listen(), users.listen(), web.listen()])

  // What an instrumented HTTP server does at the edge: the request's span is active.
  const edge = telemetry.tracer.startSpan('POST /users')
  const reply = await context.with(trace.setSpan(context.active(), edge), () =>
    web.send('users.create', { name: 'Will', password: 'secret' }, { timeout: 1_000 }).envelope(),
  )
  edge.end()
  assert.equal(reply.name, 'users.created')

  const spans = await telemetry.ended([
    'send users.create',
    'process users.create',
    'send passwords.encrypt',
    'process passwords.encrypt',
    'send passwords.encrypted',
    'send users.created',
  ])
  const sendCreate = get(spans, 'send users.create')
  const processCreate = get(spans, 'process users.create')
  const sendEncrypt = get(spans, 'send passwords.encrypt')
  const processEncrypt = get(spans, 'process passwords.encrypt')
  const sendEncrypted = get(spans, 'send passwords.encrypted')
  const sendCreated = get(spans, 'send users.created')
  const traceId = edge.spanContext().traceId
  for (const span of spans.values()) {
    assert.equal(span.spanContext().traceId, traceId, `${span.name} is in the request's trace`)
  }
  assert.equal(parentOf(sendCreate), edge.spanContext().spanId)
  assert.equal(parentOf(processCreate), sendCreate.spanContext().spanId)
  assert.equal(parentOf(sendEncrypt), processCreate.spanContext().spanId)
  assert.equal(parentOf(processEncrypt), sendEncrypt.spanContext().spanId)
  assert.equal(parentOf(sendEncrypted), processEncrypt.spanContext().spanId)
  assert.equal(parentOf(sendCreated), processCreate.spanContext().spanId)
  assert.equal(activeInHandler, processCreate.spanContext().spanId, 'the handler runs in its span')

  assert.equal(sendCreate.kind, SpanKind.PRODUCER)
  assert.equal(processCreate.kind, SpanKind.CONSUMER)
  assert.deepEqual(sendCreate.attributes, {
    'messaging.system': 'exorelay',
    'messaging.operation.name': 'send',
    'messaging.operation.type': 'send',
    'messaging.destination.name': 'users.create',
    'messaging.message.id': sendCreate.attributes['messaging.message.id'],
    'exorelay.reply.outcome': 'users.created',
  })
  assert.deepEqual(processCreate.attributes, {
    'messaging.system': 'exorelay',
    'messaging.operation.name': 'process',
    'messaging.operation.type': 'process',
    'messaging.destination.name': 'users.create',
    'messaging.consumer.group.name': 'users',
    'messaging.message.id': sendCreate.attributes['messaging.message.id'],
  })
  assert.equal(
    sendCreated.attributes['messaging.message.conversation_id'],
    sendCreate.attributes['messaging.message.id'],
    'a reply names the request it answers',
  )
  assert.equal(sendCreate.status.code, SpanStatusCode.UNSET)
  assert.equal(typeof sendCreate.attributes['messaging.message.id'], 'string')
})

test('a send outside any span starts a trace; its handler continues it', async (t) => {
  const relay = landscape(t)
  const users = relay('users').registerHandler('users.create', (_user, { reply }) => {
    reply('users.created', {})
  })
  const web = relay('web')
  await Promise.all([users.listen(), web.listen()])
  await web.send('users.create', {}, { timeout: 1_000 })
  const spans = await telemetry.ended(['send users.create', 'process users.create'])
  const send = get(spans, 'send users.create')
  assert.equal(parentOf(send), undefined, 'a root span')
  assert.equal(get(spans, 'process users.create').spanContext().traceId, send.spanContext().traceId)
})

test('failures are recorded with their code: a handler that throws, a request that times out', async (t) => {
  const relay = landscape(t)
  const users = relay('users')
    .registerHandler('users.create', async () => {
      throw new Error('database down')
    })
    .registerHandler('users.slow', () => {})
  const web = relay('web')
  await Promise.all([users.listen(), web.listen()])
  // Inside an edge span, so that the error reply's parent cannot come from the active context
  // by luck: it must be the handler's span.
  const edge = telemetry.tracer.startSpan('POST /users')
  await context.with(trace.setSpan(context.active(), edge), () =>
    assert.rejects(web.send('users.create', {}, { timeout: 1_000 }), RemoteHandlerError),
  )
  edge.end()
  await assert.rejects(web.send('users.slow', {}, { timeout: 20 }), TimeoutError)
  const spans = await telemetry.ended(['process users.create', 'send __error', 'send users.slow'])
  const handler = get(spans, 'process users.create')
  assert.equal(handler.status.code, SpanStatusCode.ERROR)
  assert.equal(handler.status.message, 'database down')
  assert.equal(handler.attributes['error.type'], 'Error')
  assert.equal(handler.events[0]?.name, 'exception')
  const request = get(spans, 'send users.create')
  assert.equal(request.status.code, SpanStatusCode.ERROR)
  assert.equal(request.attributes['error.type'], 'EXORELAY_ERR_REMOTE_HANDLER_FAILED')
  const errorReply = get(spans, 'send __error')
  assert.equal(errorReply.spanContext().traceId, edge.spanContext().traceId)
  assert.equal(
    parentOf(errorReply),
    handler.spanContext().spanId,
    'the error reply is in the trace',
  )
  const slow = get(spans, 'send users.slow')
  assert.equal(slow.attributes['error.type'], 'EXORELAY_ERR_REPLY_TIMEOUT')
})

test('a handler that stops at its deadline shows as failed, though it returned normally', async (t) => {
  const relay = landscape(t)
  const users = relay('users').registerHandler('users.create', async (_user, { signal }) => {
    if (!signal.aborted) await once(signal, 'abort')
  })
  const web = relay('web')
  await Promise.all([users.listen(), web.listen()])
  await assert.rejects(web.send('users.create', {}, { timeout: 20 }), TimeoutError)
  const spans = await telemetry.ended(['process users.create'])
  const handler = get(spans, 'process users.create')
  assert.equal(handler.status.code, SpanStatusCode.ERROR)
  assert.equal(handler.attributes['error.type'], 'EXORELAY_ERR_REPLY_TIMEOUT')
  assert.match(handler.status.message ?? '', /^The deadline of 'users\.create'/)
  assert.equal(handler.events.length, 0, 'nothing was thrown: no exception is recorded')
})

test('a handler that replied and ran on past its deadline did its work: its span is not failed', async (t) => {
  const relay = landscape(t)
  const users = relay('users').registerHandler('users.create', async (_user, ctx) => {
    await ctx.reply('users.created', {})
    if (!ctx.signal.aborted) await once(ctx.signal, 'abort')
  })
  const web = relay('web')
  await Promise.all([users.listen(), web.listen()])
  // Long enough that the reply always comes first, even on a loaded machine.
  await web.send('users.create', {}, { timeout: 500 })
  const spans = await telemetry.ended(['process users.create'])
  assert.equal(get(spans, 'process users.create').status.code, SpanStatusCode.UNSET)
})

test('disabled while a request runs, the spans it started still end', async (t) => {
  const relay = landscape(t)
  const release = deferred<void>()
  const started = deferred<void>()
  const users = relay('users').registerHandler('users.create', async (_user, { reply }) => {
    started.resolve()
    await release.promise
    reply('users.created', {})
  })
  const web = relay('web')
  await Promise.all([users.listen(), web.listen()])
  t.after(() => telemetry.instrumentation.enable())
  const request = web.send('users.create', {}, { timeout: 5_000 })
  await withDeadline(started.promise, 5_000, () => 'users.create never ran')
  telemetry.instrumentation.disable()
  release.resolve()
  await request
  const spans = await telemetry.ended(['send users.create', 'process users.create'])
  assert.equal(spans.size, 2)
})

test('a tracer that throws costs the trace, never the message or the process', async (t) => {
  const relay = landscape(t)
  const users = relay('users').registerHandler('users.create', (_user, { reply }) => {
    reply('users.created', { ok: true })
  })
  const web = relay('web')
  await Promise.all([users.listen(), web.listen()])
  const crashes: unknown[] = []
  const onUncaught = (error: unknown) => crashes.push(error)
  process.on('uncaughtException', onUncaught)
  t.after(() => process.off('uncaughtException', onUncaught))
  const broken = {
    getTracer: () => ({
      startSpan: () => {
        throw new Error('tracer bug')
      },
      startActiveSpan: () => {
        throw new Error('tracer bug')
      },
    }),
  }
  telemetry.instrumentation.setTracerProvider(broken as never)
  t.after(() => telemetry.instrumentation.setTracerProvider(telemetry.tracerProvider))
  assert.deepEqual(await web.send('users.create', {}, { timeout: 1_000 }), { ok: true })
  // diagnostics_channel would rethrow a subscriber's error on the next tick.
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(crashes, [])
})

test('the conventions’ metrics: durations of sends and handler runs, messages sent and consumed', async (t) => {
  const relay = landscape(t)
  const users = relay('users').registerHandler('users.count', (_q, { reply }) => {
    reply('users.counted', 3)
  })
  const web = relay('web')
  await Promise.all([users.listen(), web.listen()])
  for (let i = 0; i < 3; i++) await web.send('users.count', {}, { timeout: 1_000 })
  const of = (points: Awaited<ReturnType<typeof telemetry.points>>, name: string) =>
    points.find((point) => point.attributes['messaging.destination.name'] === name)
  const sends = of(await telemetry.points('messaging.client.operation.duration'), 'users.count')
  assert.ok(sends, 'a duration for users.count sends')
  assert.equal((sends.value as { count: number }).count, 3)
  assert.deepEqual(sends.attributes, {
    'messaging.system': 'exorelay',
    'messaging.operation.name': 'send',
    'messaging.destination.name': 'users.count',
  })
  const runs = of(await telemetry.points('messaging.process.duration'), 'users.count')
  assert.ok(runs, 'a duration for users.count handler runs')
  assert.equal((runs.value as { count: number }).count, 3)
  assert.equal(runs.attributes['messaging.consumer.group.name'], 'users')
  assert.equal(
    of(await telemetry.points('messaging.client.sent.messages'), 'users.count')?.value,
    3,
  )
  assert.equal(
    of(await telemetry.points('messaging.client.consumed.messages'), 'users.count')?.value,
    3,
  )
})

test('disabled, it makes no spans, and relays publish nothing', async (t) => {
  const relay = landscape(t)
  const users = relay('users').registerHandler('users.create', (_user, { reply }) => {
    reply('users.created', {})
  })
  const web = relay('web')
  await Promise.all([users.listen(), web.listen()])
  telemetry.instrumentation.disable()
  t.after(() => telemetry.instrumentation.enable())
  await web.send('users.create', {}, { timeout: 1_000 })
  assert.equal(telemetry.exporter.getFinishedSpans().length, 0)
  assert.equal(
    telemetry.instrumentation.getConfig().enabled,
    true,
    'config says what it was built with',
  )
})

test('two instances enabled at once each end their own spans', async (t) => {
  const relay = landscape(t)
  const second = new ExoRelayInstrumentation()
  second.setTracerProvider(telemetry.tracerProvider)
  t.after(() => second.disable())
  const users = relay('users').registerHandler('users.create', (_user, { reply }) => {
    reply('users.created', {})
  })
  const web = relay('web')
  await Promise.all([users.listen(), web.listen()])
  await web.send('users.create', {}, { timeout: 1_000 })
  await telemetry.ended(['send users.created'])
  const count = (name: string) =>
    telemetry.exporter.getFinishedSpans().filter((span) => span.name === name).length
  assert.equal(count('send users.create'), 2)
  assert.equal(count('process users.create'), 2)
})
