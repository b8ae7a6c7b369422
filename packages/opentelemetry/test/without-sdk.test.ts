import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { MemoryBus, Relay } from '@exorelay/core'
import { deferred, withDeadline } from '@exorelay/testing'
import { metrics } from '@opentelemetry/api'
import { registerInstrumentations } from '@opentelemetry/instrumentation'
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { ExoRelayInstrumentation } from '../src/index.js'

// An application that installs the instrumentation but runs no SDK (or one that is not
// started yet) loses nothing: the trace context that arrives still goes on unchanged.

const INCOMING = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'

test('without an SDK, a handler passes the incoming trace context on unchanged', async (t) => {
  const instrumentation = new ExoRelayInstrumentation()
  t.after(() => instrumentation.disable())
  const bus = new MemoryBus()
  const relay = (serviceName: string) => {
    const created = new Relay({ serviceName, transport: bus.transport(), timeout: 2_000 })
    t.after(() => created.close())
    return created
  }
  const seen = deferred<string | undefined>()
  const passwords = relay('passwords').registerHandler('passwords.encrypt', (_pw, ctx) => {
    seen.resolve(ctx.traceparent)
    ctx.reply('passwords.encrypted', 'x')
  })
  const atUsers = deferred<string | undefined>()
  const users = relay('users').registerHandler('users.create', async (_user, ctx) => {
    atUsers.resolve(ctx.traceparent)
    await ctx.send('passwords.encrypt', 'secret')
    ctx.reply('users.created', {})
  })
  await Promise.all([passwords.listen(), users.listen()])
  // A message as another service sends it, with trace context.
  const web = bus.transport()
  await web.listen({
    serviceName: 'web',
    receive: () => ({ status: 'accepted' }),
    handledNames: () => [],
    status: () => ({
      state: 'online',
      pendingReplies: 0,
      runningHandlers: 0,
      queuedMessages: 0,
      bus: 'reachable',
      registered: true,
    }),
  })
  t.after(() => web.close())
  await web.send(
    {
      name: 'users.create',
      id: 'request-1',
      sender: 'web',
      payload: {},
      traceparent: INCOMING,
      timeout: 1_000,
    },
    { timeout: 1_000, awaitsReply: true },
  )
  const nested = await withDeadline(seen.promise, 5_000, () => 'passwords.encrypt never arrived')
  assert.equal(await atUsers.promise, INCOMING)
  assert.equal(nested, INCOMING)
})

test('registerInstrumentations hands it its providers and enables it; no propagator is needed', async (t) => {
  const exporter = new InMemorySpanExporter()
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  })
  const instrumentation = new ExoRelayInstrumentation({ enabled: false })
  const unregister = registerInstrumentations({
    instrumentations: [instrumentation],
    tracerProvider,
  })
  t.after(unregister)
  const web = await usersAndWeb(t)
  await web.send('users.create', {}, { timeout: 1_000 })
  const spans = exporter.getFinishedSpans()
  const send = spans.find((span) => span.name === 'send users.create')
  const process = spans.find((span) => span.name === 'process users.create')
  assert.ok(send && process, `spans: ${spans.map((span) => span.name).join(', ')}`)
  // No propagator is registered here: the trace context still travels, since the wire's is
  // always W3C's.
  assert.equal(process.parentSpanContext?.spanId, send.spanContext().spanId)
  assert.equal(process.spanContext().traceId, send.spanContext().traceId)
})

test('a meter provider registered after the instrumentation is used from the next message on', async (t) => {
  const instrumentation = new ExoRelayInstrumentation()
  t.after(() => instrumentation.disable())
  const web = await usersAndWeb(t)
  await web.send('users.create', {}, { timeout: 1_000 })
  const reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 60_000,
  })
  const provider = new MeterProvider({ readers: [reader] })
  metrics.setGlobalMeterProvider(provider)
  t.after(async () => {
    metrics.disable()
    await provider.shutdown()
  })
  await web.send('users.create', {}, { timeout: 1_000 })
  const { resourceMetrics } = await reader.collect()
  const names = resourceMetrics.scopeMetrics.flatMap((scope) =>
    scope.metrics.map((metric) => metric.descriptor.name),
  )
  assert.ok(names.includes('messaging.process.duration'), names.join(', '))
})

/** users, which answers users.create, and web, on one in-memory bus; closed after the test. */
async function usersAndWeb(t: TestContext): Promise<Relay> {
  const bus = new MemoryBus()
  const users = new Relay({ serviceName: 'users', transport: bus.transport() })
  const web = new Relay({ serviceName: 'web', transport: bus.transport() })
  t.after(() => Promise.all([users.close(), web.close()]))
  users.registerHandler('users.create', (_user, { reply }) => {
    reply('users.created', {})
  })
  await Promise.all([users.listen(), web.listen()])
  return web
}
