import assert from 'node:assert/strict'
import { AsyncLocalStorage } from 'node:async_hooks'
import { type TestContext, test } from 'node:test'
import type { HandleTrace, SendTrace } from '../src/diagnostics.js'
import { diagnostics } from '../src/diagnostics.js'
import { ClosedError, RemoteHandlerError, TimeoutError } from '../src/errors.js'
import { MemoryBus } from '../src/memory-transport.js'
import { Relay } from '../src/relay.js'
import { sendTrace } from '../src/sent-message.js'

// The two tracing channels a tracer (@exorelay/opentelemetry) makes its spans from: every
// send from the moment it leaves until it settles, every handler run, in Node's
// TracingChannel order, and the two things a subscriber may change (trace context, and how
// the handler runs).

const INCOMING = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
const SPAN = '00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01'

function landscape(t: TestContext) {
  const bus = new MemoryBus()
  const relay = (serviceName: string) => {
    const created = new Relay({ serviceName, transport: bus.transport(), timeout: 2_000 })
    t.after(() => created.close())
    return created
  }
  return { bus, relay }
}

type Event = 'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error'
const EVENTS: Event[] = ['start', 'end', 'asyncStart', 'asyncEnd', 'error']

/** Records every event of a tracing channel, and runs `onStart` as its `start` subscriber. */
function record<T extends object>(
  t: TestContext,
  tracing: typeof diagnostics.sendTracing | typeof diagnostics.handleTracing,
  onStart: (trace: T) => void = () => {},
) {
  const events: { event: Event; trace: T }[] = []
  const handlers = Object.fromEntries(
    EVENTS.map((event) => [
      event,
      (trace: T) => {
        events.push({ event, trace })
        if (event === 'start') onStart(trace)
      },
    ]),
  ) as Record<Event, (trace: object) => void>
  tracing.subscribe(handlers as never)
  t.after(() => tracing.unsubscribe(handlers as never))
  const of = (name: string) => events.filter(({ trace }) => nameOf(trace) === name)
  return { events, of }
}

function nameOf(trace: object): string {
  return 'envelope' in trace
    ? (trace as SendTrace).envelope.name
    : (trace as HandleTrace).message.name
}

test('a request is traced from the moment it leaves until its reply, in the caller’s context', async (t) => {
  const { relay } = landscape(t)
  const users = relay('users').registerHandler('users.create', (user, { reply }) =>
    reply('users.created', user),
  )
  const web = relay('web')
  await Promise.all([users.listen(), web.listen()])
  const storage = new AsyncLocalStorage<string>()
  const seenIn: (string | undefined)[] = []
  const sends = record<SendTrace>(t, diagnostics.sendTracing, (trace) => {
    seenIn.push(storage.getStore())
    // What a tracer does: its span's context leaves with the message.
    if (trace.envelope.name === 'users.create') trace.envelope.traceparent = SPAN
  })
  const user = await storage.run('request 1', () =>
    web.send('users.create', { name: 'Will' }, { timeout: 1_000 }),
  )
  assert.deepEqual(user, { name: 'Will' })
  const request = sends.of('users.create')
  assert.deepEqual(
    request.map(({ event }) => event),
    ['start', 'end', 'asyncStart', 'asyncEnd'],
  )
  const trace = request[0]!.trace
  assert.equal(trace.serviceName, 'web')
  assert.equal(trace.expectsReply, true)
  assert.equal(trace.reply?.name, 'users.created')
  assert.equal(trace.error, undefined)
  assert.equal(seenIn[0], 'request 1', 'start runs in the context of the send call')
  // The reply is a send too: it left with the trace context the request brought.
  const reply = sends.of('users.created')
  assert.equal(reply[0]?.trace.expectsReply, false)
  assert.equal(reply[0]?.trace.envelope.traceparent, SPAN)
  assert.equal(reply[0]?.trace.envelope.responseTo, trace.envelope.id)
})

test('a fire-and-forget send ends when the bus took it, a failed one with its error', async (t) => {
  const { relay } = landscape(t)
  const users = relay('users').registerHandler('users.created', () => {})
  const web = relay('web')
  await Promise.all([users.listen(), web.listen()])
  const sends = record<SendTrace>(t, diagnostics.sendTracing)
  await web.send('users.created', { id: 1 }, { reply: false })
  assert.deepEqual(
    sends.of('users.created').map(({ event }) => event),
    ['start', 'end', 'asyncStart', 'asyncEnd'],
  )
  assert.equal(sends.of('users.created')[0]?.trace.reply, undefined)

  users.registerHandler('users.slow', () => {})
  await assert.rejects(web.send('users.slow', {}, { timeout: 20 }), TimeoutError)
  const slow = sends.of('users.slow')
  assert.deepEqual(
    slow.map(({ event }) => event),
    ['start', 'end', 'error', 'asyncStart', 'asyncEnd'],
  )
  assert.ok(slow[0]!.trace.error instanceof TimeoutError)
})

test('a send that fails before it leaves is traced with its error too', async (t) => {
  const { relay } = landscape(t)
  const web = relay('web')
  await web.listen()
  await web.close()
  const sends = record<SendTrace>(t, diagnostics.sendTracing)
  await assert.rejects(web.send('users.create', {}), ClosedError)
  assert.deepEqual(
    sends.of('users.create').map(({ event }) => event),
    ['start', 'end', 'error', 'asyncStart', 'asyncEnd'],
  )
})

test('a handler run is traced; the tracer gives it its trace context and runs it in its own context', async (t) => {
  const { relay } = landscape(t)
  const storage = new AsyncLocalStorage<string>()
  const seen: { store?: string | undefined; traceparent?: string | undefined } = {}
  const passwords = relay('passwords').registerHandler('passwords.hash', (_pw, { reply }) => {
    reply('passwords.hashed', 'x')
  })
  const users = relay('users').registerHandler('users.create', async (_user, ctx) => {
    seen.store = storage.getStore()
    seen.traceparent = ctx.traceparent
    await ctx.send('passwords.hash', 'secret')
    ctx.reply('users.created', {})
  })
  const web = relay('web')
  await Promise.all([passwords.listen(), users.listen(), web.listen()])
  const sends = record<SendTrace>(t, diagnostics.sendTracing)
  const handles = record<HandleTrace>(t, diagnostics.handleTracing, (trace) => {
    if (trace.message.name !== 'users.create') return
    trace.traceparent = SPAN
    trace.runHandler = (handler) => storage.run('span of users.create', handler)
  })
  const reply = await web.send('users.create', {}, { timeout: 1_000 }).envelope()
  assert.equal(reply.name, 'users.created')
  assert.equal(seen.store, 'span of users.create', 'the handler runs inside runHandler')
  assert.equal(seen.traceparent, SPAN, 'ctx.traceparent is the tracer’s')
  assert.equal(sends.of('passwords.hash')[0]?.trace.envelope.traceparent, SPAN)
  assert.equal(sends.of('users.created')[0]?.trace.envelope.traceparent, SPAN)
  const run = handles.of('users.create')
  assert.deepEqual(
    run.map(({ event }) => event),
    ['start', 'end', 'asyncStart', 'asyncEnd'],
  )
  assert.equal(run[0]!.trace.serviceName, 'users')
  assert.equal(run[0]!.trace.async, true)
  // A handler that returns no promise ends at `end`, as with traceSync.
  assert.deepEqual(
    handles.of('passwords.hash').map(({ event }) => event),
    ['start', 'end'],
  )
  assert.equal(handles.of('passwords.hash')[0]!.trace.async, undefined)
})

test('a failed handler is traced with its error, and its error reply carries the trace context', async (t) => {
  const { relay } = landscape(t)
  const users = relay('users')
    .registerHandler('users.sync', () => {
      throw new Error('sync failure')
    })
    .registerHandler('users.async', async () => {
      throw new Error('async failure')
    })
  const web = relay('web')
  await Promise.all([users.listen(), web.listen()])
  const handles = record<HandleTrace>(t, diagnostics.handleTracing)
  // A send from outside a handler carries no trace context of its own: give it one, as a
  // tracer at the edge would.
  const sends = record<SendTrace>(t, diagnostics.sendTracing, (trace) => {
    if (trace.envelope.name !== '__error') trace.envelope.traceparent = INCOMING
  })
  const withTrace = (name: string) => web.send(name, {}, { timeout: 1_000 })
  await assert.rejects(withTrace('users.sync'), RemoteHandlerError)
  await assert.rejects(withTrace('users.async'), RemoteHandlerError)
  assert.deepEqual(
    handles.of('users.sync').map(({ event }) => event),
    ['start', 'error', 'end'],
  )
  assert.deepEqual(
    handles.of('users.async').map(({ event }) => event),
    ['start', 'end', 'error', 'asyncStart', 'asyncEnd'],
  )
  assert.equal((handles.of('users.async')[0]!.trace.error as Error).message, 'async failure')
  const errorReplies = sends.of('__error').filter(({ event }) => event === 'start')
  assert.equal(errorReplies.length, 2)
  for (const { trace } of errorReplies) {
    assert.equal(trace.envelope.traceparent, INCOMING, 'the error reply goes on in the trace')
  }
})

test('a trace context a subscriber gets wrong is not passed on', async (t) => {
  const { relay } = landscape(t)
  let traceparent: string | undefined = 'not yet'
  const users = relay('users').registerHandler('users.create', (_user, ctx) => {
    traceparent = ctx.traceparent
    ctx.reply('users.created', {})
  })
  const web = relay('web')
  await Promise.all([users.listen(), web.listen()])
  record<HandleTrace>(t, diagnostics.handleTracing, (trace) => {
    trace.traceparent = '00-00000000000000000000000000000000-b7ad6b7169203331-01'
  })
  await web.send('users.create', {}, { timeout: 1_000 })
  assert.equal(traceparent, undefined)
})

test('nothing is published, and no trace is kept, while nobody subscribes', async (t) => {
  const { relay } = landscape(t)
  const users = relay('users').registerHandler('users.create', (_u, { reply }) =>
    reply('users.created', {}),
  )
  const web = relay('web')
  await Promise.all([users.listen(), web.listen()])
  assert.equal(diagnostics.sendTracing.start.hasSubscribers, false)
  assert.equal(diagnostics.handleTracing.start.hasSubscribers, false)
  const sent = web.send('users.create', {}, { timeout: 1_000 })
  assert.equal(sendTrace in sent, false, 'an untraced send keeps no trace')
  await sent
})

test('a transport that throws instead of rejecting fails the send, which still ends its trace', async (t) => {
  const bus = new MemoryBus()
  const transport = bus.transport()
  const failing = new Error('socket gone')
  transport.send = () => {
    throw failing
  }
  const web = new Relay({ serviceName: 'web', transport })
  t.after(() => web.close())
  await web.listen()
  const sends = record<SendTrace>(t, diagnostics.sendTracing)
  await assert.rejects(web.send('users.created', {}, { reply: false }), failing)
  await assert.rejects(web.send('users.create', {}, { timeout: 1_000 }), failing)
  for (const name of ['users.created', 'users.create']) {
    assert.deepEqual(
      sends.of(name).map(({ event }) => event),
      ['start', 'end', 'error', 'asyncStart', 'asyncEnd'],
      name,
    )
  }
})

test('trace context a send subscriber gets wrong does not leave with the message', async (t) => {
  const { bus, relay } = landscape(t)
  const users = relay('users').registerHandler('users.created', () => {})
  const web = relay('web')
  await Promise.all([users.listen(), web.listen()])
  record<SendTrace>(t, diagnostics.sendTracing, (trace) => {
    trace.envelope.traceparent = 'not a traceparent'
    trace.envelope.tracestate = 'a=1'
  })
  await web.send('users.created', {}, { reply: false })
  const delivered = bus.deliveries.find((d) => d.message.name === 'users.created')
  assert.ok(delivered)
  assert.equal(delivered.message.traceparent, undefined)
  assert.equal(delivered.message.tracestate, undefined)
})

test('an error reply goes out in the context the tracer runs the handler in', async (t) => {
  const { relay } = landscape(t)
  const storage = new AsyncLocalStorage<string>()
  const users = relay('users').registerHandler('users.create', async () => {
    throw new Error('database down')
  })
  const web = relay('web')
  await Promise.all([users.listen(), web.listen()])
  const contexts: (string | undefined)[] = []
  record<SendTrace>(t, diagnostics.sendTracing, (trace) => {
    if (trace.envelope.name === '__error') contexts.push(storage.getStore())
  })
  record<HandleTrace>(t, diagnostics.handleTracing, (trace) => {
    trace.runHandler = (handler) => storage.run('span of users.create', handler)
  })
  await assert.rejects(web.send('users.create', {}, { timeout: 1_000 }), RemoteHandlerError)
  assert.deepEqual(contexts, ['span of users.create'])
})
