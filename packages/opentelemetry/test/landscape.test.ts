import assert from 'node:assert/strict'
import { after, before, describe, type TestContext, test } from 'node:test'
import { startExoCom } from '@exorelay/exocom'
import { natsTransport } from '@exorelay/nats-transport'
import { type NatsServer, startNatsServer, withDeadline } from '@exorelay/testing'
import { context, SpanKind, trace } from '@opentelemetry/api'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { ExoRelay } from 'exorelay'
import { startTelemetry } from './telemetry.js'

// Issue 15's proof: web → users → passwords as three relays with an OpenTelemetry SDK, through
// the real bus over HTTP and through a real nats-server: one trace, each hop the child of
// the one before, with the kinds and attributes of the messaging conventions.

let telemetry: ReturnType<typeof startTelemetry>
let nats: NatsServer
before(async () => {
  telemetry = startTelemetry()
  nats = await startNatsServer()
})
after(async () => {
  await telemetry.stop()
  await nats.stop()
})

type MakeRelay = (serviceName: string) => ExoRelay

/** The three services, started; closed (within a deadline) when the test ends. */
async function services(t: TestContext, make: MakeRelay) {
  const passwords = make('passwords').registerHandler('passwords.encrypt', (pw, { reply }) => {
    reply('passwords.encrypted', `hashed ${pw}`)
  })
  const users = make('users').registerHandler('users.create', async (user, ctx) => {
    const { name, password } = user as { name: string; password: string }
    await ctx.send('passwords.encrypt', password)
    ctx.reply('users.created', { id: 1, name })
  })
  const web = make('web')
  const all = [passwords, users, web]
  t.after(() =>
    withDeadline(
      Promise.all(all.map((relay) => relay.close())),
      15_000,
      () => 'the relays did not close',
    ),
  )
  await Promise.all(all.map((relay) => relay.listen()))
  return web
}

/** POST /users at web, as an instrumented HTTP server runs it: inside the request's span. */
async function postUsers(web: ExoRelay) {
  telemetry.exporter.reset()
  const edge = telemetry.tracer.startSpan('POST /users', { kind: SpanKind.SERVER })
  const reply = await context.with(trace.setSpan(context.active(), edge), () =>
    web.send('users.create', { name: 'Will', password: 'secret' }, { timeout: 5_000 }).envelope(),
  )
  edge.end()
  assert.equal(reply.name, 'users.created')
  return edge
}

const HOPS: [child: string, parent: string, kind: SpanKind][] = [
  ['send users.create', 'POST /users', SpanKind.PRODUCER],
  ['process users.create', 'send users.create', SpanKind.CONSUMER],
  ['send passwords.encrypt', 'process users.create', SpanKind.PRODUCER],
  ['process passwords.encrypt', 'send passwords.encrypt', SpanKind.CONSUMER],
  ['send passwords.encrypted', 'process passwords.encrypt', SpanKind.PRODUCER],
  ['send users.created', 'process users.create', SpanKind.PRODUCER],
]

async function assertOneTrace() {
  const spans = await telemetry.ended(['POST /users', ...HOPS.map(([child]) => child)])
  const span = (name: string): ReadableSpan => spans.get(name)!
  const traceId = span('POST /users').spanContext().traceId
  for (const [child, parent, kind] of HOPS) {
    assert.equal(span(child).spanContext().traceId, traceId, `${child} is in the trace`)
    assert.equal(
      span(child).parentSpanContext?.spanId,
      span(parent).spanContext().spanId,
      `${child} is the child of ${parent}`,
    )
    assert.equal(span(child).kind, kind, `${child} is a ${SpanKind[kind]} span`)
    assert.equal(span(child).attributes['messaging.system'], 'exorelay')
  }
  assert.equal(span('process users.create').attributes['messaging.consumer.group.name'], 'users')
  assert.equal(span('send users.create').attributes['exorelay.reply.outcome'], 'users.created')
}

describe('one trace through the real bus, over HTTP', () => {
  test('web → users → passwords', async (t) => {
    const bus = await startExoCom({ port: 0, host: '127.0.0.1', logger: false })
    t.after(() => withDeadline(bus.close(), 15_000, () => 'the bus did not close'))
    const web = await services(
      t,
      (serviceName) =>
        new ExoRelay({
          serviceName,
          exocomHost: '127.0.0.1',
          exocomPort: bus.port,
          host: '127.0.0.1',
          port: 0,
          logger: false,
          env: {},
        }),
    )
    await postUsers(web)
    await assertOneTrace()
  })
})

describe('one trace through a real nats-server', () => {
  test('web → users → passwords', async (t) => {
    const web = await services(
      t,
      (serviceName) =>
        new ExoRelay({
          serviceName,
          transport: natsTransport({ servers: nats.url, subjectPrefix: 'traced' }),
          logger: false,
          env: {},
        }),
    )
    await postUsers(web)
    await assertOneTrace()
  })
})
