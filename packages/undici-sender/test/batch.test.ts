import assert from 'node:assert/strict'
import { once } from 'node:events'
import type { ServerResponse } from 'node:http'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { inspect } from 'node:util'
import { ErrorCodes, type OutgoingEnvelope, TimeoutError, TransportError } from '@exorelay/core'
import { MAX_BATCH_BYTES, MAX_BATCH_MESSAGES } from '@exorelay/http-protocol'
import { Agent, type Dispatcher } from 'undici'
import { UndiciSender } from '../src/undici-sender.js'
import {
  envelope,
  type FakeExoCom,
  isCode,
  type Recorded,
  recordingAgent,
  registration,
  SEND,
  startExoCom,
  startSender,
} from './fake-exocom.js'
import { manualTimers } from './manual-timers.js'

const OFFER = '{"batches":true}'

/**
 * What the fake bus does with a batch: answer it (return the JSON of the answer), or take
 * care of `res` itself (return `undefined`). By default every message is accepted.
 */
type BatchAnswer = (entries: Record<string, unknown>[], res: ServerResponse) => unknown

interface Bus extends FakeExoCom {
  /** Its answer to registrations. */
  offer: string
  /** While true, single-route sends are held open until `release()`. */
  holding: boolean
  /** Answers the oldest `count` held sends with 200. */
  release: (count: number) => void
  /** The batches that arrived, parsed. */
  batches: () => Record<string, unknown>[][]
}

/** A fake ExoCom that offers batches, holds single sends on demand and answers batches. */
async function startBus(t: TestContext, answerBatch?: BatchAnswer): Promise<Bus> {
  const held: ServerResponse[] = []
  const exocom = await startExoCom(t, (request, res) => {
    if (request.method === 'PUT') {
      res.setHeader('content-type', 'application/json')
      res.end(bus.offer)
    } else if (request.url === '/send') {
      const entries = JSON.parse(request.body) as Record<string, unknown>[]
      const answer = answerBatch ? answerBatch(entries, res) : entries.map(() => ({ status: 200 }))
      if (answer !== undefined) res.end(JSON.stringify(answer))
    } else if (bus.holding) {
      held.push(res)
    } else {
      res.end()
    }
  })
  const bus: Bus = {
    ...exocom,
    offer: OFFER,
    holding: true,
    release: (count) => {
      for (const res of held.splice(0, count)) res.end()
    },
    batches: () =>
      exocom.requests
        .filter((request) => request.url === '/send')
        .map((request) => JSON.parse(request.body) as Record<string, unknown>[]),
  }
  return bus
}

/**
 * Sends whose deadlines only manual timers end: undici's own timeouts, real, are this far.
 * With manual timers the deadline passes when the test fires it, never because a loaded
 * machine was slow.
 */
const LONG = { timeout: 60_000 }
/** Longer than {@link LONG}: for sends whose deadline a test never fires. */
const LONGER = { timeout: 120_000 }

/** A registered sender with `batchAfter` (2) sends held open at the bus. */
async function busySender(
  t: TestContext,
  bus: Bus,
  options: Partial<ConstructorParameters<typeof UndiciSender>[0]> = {},
  /** The held sends' options: {@link LONGER} with manual timers. */
  send: { timeout: number } = SEND,
): Promise<{ sender: UndiciSender; held: Promise<void>[] }> {
  const sender = startSender(t, bus.port, options)
  assert.equal(await sender.register(registration, SEND), 'registered')
  const before = bus.requests.length
  const held = [sender.send(message('held-1'), send), sender.send(message('held-2'), send)]
  await bus.received(before + 2)
  return { sender, held }
}

function message(id: string, fields: Partial<OutgoingEnvelope> = {}): OutgoingEnvelope {
  return envelope({ id, name: `users.${id}`, ...fields })
}

const ids = (entries: Record<string, unknown>[]): unknown[] => entries.map((entry) => entry.id)
const urls = (requests: Recorded[]): string[] => requests.map((request) => request.url)

// --- learning the offer ---

test('once the bus offers batches, messages beyond batchAfter leave as one POST /send, in order', async (t) => {
  const bus = await startBus(t)
  const { sender, held } = await busySender(t, bus)
  const queued = ['c', 'd', 'e'].map((id) =>
    sender.send(message(id, id === 'd' ? { responseTo: 'r-1' } : {}), SEND),
  )
  bus.holding = false
  bus.release(1)
  await Promise.all(queued)
  assert.equal(bus.requests.length, 4, 'nothing went out while two requests were under way')
  const batch = bus.requests[3]
  assert.equal(batch?.method, 'POST')
  assert.equal(batch?.url, '/send')
  assert.equal(batch?.headers['content-type'], 'application/json')
  assert.equal(batch?.headers.accept, 'application/json')
  assert.equal(
    batch?.body,
    '[{"name":"users.c","sender":"web","id":"c","payload":{"name":"Will"}},' +
      '{"name":"users.d","sender":"web","id":"d","payload":{"name":"Will"},"responseTo":"r-1"},' +
      '{"name":"users.e","sender":"web","id":"e","payload":{"name":"Will"}}]',
  )
  bus.release(1)
  await Promise.all(held)
  assert.equal(bus.requests.length, 4)
})

test('an empty registration answer, or the batches: false option, keeps every message on the single route', async (t) => {
  for (const [offer, options] of [
    ['', {}],
    ['{"batches":false}', {}],
    [OFFER, { batches: false }],
  ] as const) {
    const bus = await startBus(t)
    bus.offer = offer
    const { sender, held } = await busySender(t, bus, options)
    const more = ['c', 'd', 'e'].map((id) => sender.send(message(id), SEND))
    // They go out at once, while the first two are still held.
    await bus.received(6)
    assert.deepEqual(urls(bus.requests).slice(3), [
      '/send/users.c',
      '/send/users.d',
      '/send/users.e',
    ])
    bus.holding = false
    bus.release(5)
    await Promise.all([...held, ...more])
    assert.deepEqual(bus.batches(), [], `${offer} ${inspect(options)}`)
  }
})

test('each registration answer decides again: a bus without the offer ends batching', async (t) => {
  const bus = await startBus(t)
  const { sender, held } = await busySender(t, bus)
  bus.offer = ''
  await sender.register(registration, SEND)
  const alone = sender.send(message('c'), SEND)
  await bus.received(5)
  assert.equal(bus.requests[4]?.url, '/send/users.c')
  bus.offer = OFFER
  await sender.register(registration, SEND)
  const queued = ['d', 'e'].map((id) => sender.send(message(id), SEND))
  bus.holding = false
  // Three are under way: the batch leaves once fewer than two are.
  bus.release(2)
  await Promise.all(queued)
  assert.deepEqual(bus.batches().map(ids), [['d', 'e']])
  bus.release(1)
  await Promise.all([...held, alone])
})

test('a batch of one goes on the single route, and batchAfter sets when messages wait', async (t) => {
  const bus = await startBus(t)
  const sender = startSender(t, bus.port, { batchAfter: 1 })
  await sender.register(registration, SEND)
  const first = sender.send(message('a'), SEND)
  await bus.received(2)
  const waiting = sender.send(message('b'), SEND)
  assert.equal(bus.requests.length, 2)
  bus.holding = false
  bus.release(1)
  await Promise.all([first, waiting])
  assert.deepEqual(urls(bus.requests), ['/services/users', '/send/users.a', '/send/users.b'])
})

// --- results ---

test('each message of a batch settles by its own result, with the errors of the single route', async (t) => {
  const bus = await startBus(t, () => [
    { status: 200 },
    { status: 404, code: ErrorCodes.UNKNOWN_MESSAGE, error: "unknown message: 'users.d'" },
    { status: 500, error: `  ${'x'.repeat(300)}  ` },
    { status: 422, code: ErrorCodes.NO_RECEIVER, error: 'nobody' },
    { status: 202 },
  ])
  const { sender, held } = await busySender(t, bus)
  const outcomes = ['c', 'd', 'e', 'f', 'g'].map((id) =>
    sender.send(message(id), SEND).then(
      () => 'sent',
      (error: unknown) => error,
    ),
  )
  bus.holding = false
  bus.release(2)
  const [c, d, e, f, g] = await Promise.all(outcomes)
  await Promise.all(held)
  assert.equal(c, 'sent')
  assert.equal(g, 'sent')
  assert.ok(d instanceof TransportError)
  assert.equal(d.code, ErrorCodes.NO_RECEIVER)
  assert.equal(d.status, 404)
  assert.ok(
    d.message.startsWith(
      "No service receives the message 'users.d' (ExoCom answered 404: unknown message: 'users.d'). ExoCom lists its routes at GET http://",
    ),
    d.message,
  )
  assert.ok(e instanceof TransportError)
  assert.equal(e.code, ErrorCodes.BUS_REFUSED)
  assert.equal(e.status, 500)
  assert.equal(
    e.message,
    `ExoCom refused the message 'users.e' (answered 500: ${'x'.repeat(200)}…).`,
  )
  assert.ok(f instanceof TransportError)
  assert.equal(f.code, ErrorCodes.NO_RECEIVER)
  assert.equal(f.status, 422)
  assert.equal(bus.batches().length, 1)
})

test('an answer without valid results rejects every message with BUS_REFUSED and sends none again', async (t) => {
  const answers: unknown[] = [[{ status: 200 }], [{ status: 200 }, { status: 'ok' }], { ok: true }]
  const pages = ['not json', '<!DOCTYPE html><pre>Error<br> &nbsp;at f (/home/u/x.js:1:2)</pre>']
  for (const answer of [...answers, ...pages]) {
    const bus = await startBus(t, (_entries, res) => {
      if (typeof answer === 'string') res.end(answer)
      else return answer
      return undefined
    })
    const { sender, held } = await busySender(t, bus)
    const queued = ['c', 'd'].map((id) => sender.send(message(id), SEND).catch((e: unknown) => e))
    bus.holding = false
    bus.release(2)
    const errors = await Promise.all(queued)
    await Promise.all(held)
    for (const error of errors) {
      assert.ok(error instanceof TransportError, inspect(answer))
      assert.equal(error.code, ErrorCodes.BUS_REFUSED)
      assert.equal(error.status, 200)
      assert.match(
        error.message,
        /^ExoCom answered a batch of 2 messages with 200 but no valid results \(/,
      )
      if (typeof answer === 'string') {
        // V8's JSON error would quote the body: only what is wrong with it is said.
        assert.match(error.message, /\(its body is not JSON\)\.$/)
        assert.equal(error.cause, undefined)
      }
    }
    assert.equal(bus.requests.length, 4, 'nothing was sent again')
  }
})

test('a whole batch refused (500, 401) rejects each message as the single route would', async (t) => {
  for (const status of [500, 401]) {
    const bus = await startBus(t, (_entries, res) => {
      res.statusCode = status
      if (status === 401) res.setHeader('exorelay-error-code', ErrorCodes.UNAUTHORIZED)
      res.end('boom')
      return undefined
    })
    const { sender, held } = await busySender(t, bus)
    const queued = ['c', 'd'].map((id) => sender.send(message(id), SEND).catch((e: unknown) => e))
    bus.holding = false
    bus.release(2)
    const [c, d] = await Promise.all(queued)
    await Promise.all(held)
    assert.ok(c instanceof TransportError && d instanceof TransportError)
    assert.equal(c.code, ErrorCodes.BUS_REFUSED)
    assert.equal(c.status, status)
    assert.equal(c.message, `ExoCom refused the message 'users.c' (answered ${status}: boom).`)
    assert.equal(d.message, `ExoCom refused the message 'users.d' (answered ${status}: boom).`)
    assert.equal(bus.requests.length, 4)
  }
})

test('after 404, 405 or 413 to a batch its messages go again one by one, and batching stops until the next offer', async (t) => {
  for (const status of [404, 405, 413]) {
    let refused = false
    const bus = await startBus(t, (entries, res) => {
      if (refused) return entries.map(() => ({ status: 200 }))
      refused = true
      res.statusCode = status
      res.end(`Cannot POST /send`)
      return undefined
    })
    const { sender, held } = await busySender(t, bus)
    const queued = ['c', 'd'].map((id) => sender.send(message(id), SEND))
    bus.release(1)
    await bus.received(6)
    assert.deepEqual(urls(bus.requests).slice(3), ['/send', '/send/users.c', '/send/users.d'])
    assert.deepEqual(bus.batches().map(ids), [['c', 'd']])
    // Two requests under way again (one held, one resent): does a new message wait?
    const later = ['e', 'f'].map((id) => sender.send(message(id), SEND))
    await bus.received(8)
    assert.deepEqual(urls(bus.requests).slice(6), ['/send/users.e', '/send/users.f'])
    bus.holding = false
    bus.release(5)
    await Promise.all([...held, ...queued, ...later])
    // The next registration answer offers batches again.
    bus.holding = true
    await sender.register(registration, SEND)
    const again = [sender.send(message('g'), SEND), sender.send(message('h'), SEND)]
    const waiting = ['i', 'j'].map((id) => sender.send(message(id), SEND))
    await bus.received(11)
    bus.holding = false
    bus.release(2)
    await Promise.all([...again, ...waiting])
    assert.deepEqual(
      bus.batches().map(ids),
      [
        ['c', 'd'],
        ['i', 'j'],
      ],
      String(status),
    )
  }
})

test('a connection lost after the batch was written rejects every message with BUS_UNREACHABLE, once', async (t) => {
  const bus = await startBus(t, (_entries, res) => {
    res.socket?.destroy()
    return undefined
  })
  const { sender, held } = await busySender(t, bus)
  const queued = ['c', 'd'].map((id) => sender.send(message(id), SEND).catch((e: unknown) => e))
  bus.holding = false
  bus.release(2)
  for (const error of await Promise.all(queued)) {
    assert.ok(error instanceof TransportError)
    assert.equal(error.code, ErrorCodes.BUS_UNREACHABLE)
  }
  await Promise.all(held)
  assert.equal(bus.requests.length, 4, 'at most once: nothing sent again')
  assert.equal(sender.reachable, false)
})

// --- deadlines and signals ---

test('a message whose deadline passes or whose signal aborts while it waits is rejected and never written', async (t) => {
  const bus = await startBus(t)
  const { sender, held } = await busySender(t, bus)
  const controller = new AbortController()
  const reason = new Error('the caller gave up')
  const c = sender.send(message('c'), SEND)
  const late = sender.send(message('late'), { timeout: 30 }).catch((e: unknown) => e)
  const aborted = sender.send(message('aborted'), { ...SEND, signal: controller.signal })
  const f = sender.send(message('f'), SEND)
  controller.abort(reason)
  await assert.rejects(aborted, (error) => error === reason)
  const error = await late
  assert.ok(error instanceof TimeoutError)
  assert.equal(error.timeout, 30)
  assert.equal(error.message, "ExoCom did not answer the message 'users.late' within 30 ms.")
  bus.holding = false
  bus.release(1)
  await Promise.all([c, f])
  assert.deepEqual(bus.batches().map(ids), [['c', 'f']])
  bus.release(1)
  await Promise.all(held)
  assert.equal(bus.requests.length, 4)
})

test('a message whose deadline passed before its timer ran is rejected when the batch forms, and never written', async (t) => {
  const bus = await startBus(t)
  // Timers that never fire: the deadline passes while its timer "runs late", as in a busy
  // event loop where several requests end in one turn before the timers phase.
  const lateTimers = { setTimeout: () => ({}), clearTimeout: () => {} }
  const { sender, held } = await busySender(t, bus, { timers: lateTimers })
  const late = sender.send(message('late'), { timeout: 20 }).catch((e: unknown) => e)
  // Taken after the send returned, so at or after the moment its deadline counts from: taken
  // before it, a busy machine's delay inside send() left the deadline unpassed (seen on CI).
  const sent = performance.now()
  const c = sender.send(message('c'), SEND)
  const d = sender.send(message('d'), SEND)
  // Its deadline has passed; nothing else can tell it.
  await sleep(Math.max(0, 25 - (performance.now() - sent)))
  bus.holding = false
  bus.release(1)
  await Promise.all([c, d])
  const error = await late
  assert.ok(error instanceof TimeoutError)
  assert.equal(error.message, "ExoCom did not answer the message 'users.late' within 20 ms.")
  assert.deepEqual(bus.batches().map(ids), [['c', 'd']])
  bus.release(1)
  await Promise.all(held)
})

test('a message with no field but its name still makes a valid batch entry', async (t) => {
  const bus = await startBus(t)
  const { sender, held } = await busySender(t, bus)
  const bare = { name: 'users.bare' } as OutgoingEnvelope
  const queued = [sender.send(bare, SEND), sender.send(message('c'), SEND)]
  bus.holding = false
  bus.release(1)
  await Promise.all(queued)
  assert.deepEqual(bus.batches()[0]?.[0], { name: 'users.bare' })
  bus.release(1)
  await Promise.all(held)
})

test('once its batch is written, a message fails at its own deadline while the others get their answer', async (t) => {
  let answer: (() => void) | undefined
  const bus = await startBus(t, (entries, res) => {
    answer = () => res.end(JSON.stringify(entries.map(() => ({ status: 200 }))))
    return undefined
  })
  // The deadline of `short` passes when the test fires it, once the batch is written.
  const timers = manualTimers()
  const { sender, held } = await busySender(t, bus, { timers }, LONGER)
  const controller = new AbortController()
  const reason = new Error('the caller gave up')
  const c = sender.send(message('c'), LONGER)
  const short = sender.send(message('short'), LONG).catch((e: unknown) => e)
  const aborted = sender.send(message('aborted'), { ...LONGER, signal: controller.signal })
  bus.holding = false
  bus.release(1)
  await bus.received(4)
  assert.deepEqual(bus.batches().map(ids), [['c', 'short', 'aborted']])
  controller.abort(reason)
  await assert.rejects(aborted, (error) => error === reason)
  timers.fire(LONG.timeout)
  const error = await short
  assert.ok(error instanceof TimeoutError)
  assert.equal(error.message, "ExoCom did not answer the message 'users.short' within 60000 ms.")
  answer?.()
  await c
  bus.release(1)
  await Promise.all(held)
})

test('a batch whose every message gave up is dropped', async (t) => {
  let closed: Promise<unknown> | undefined
  const bus = await startBus(t, (_entries, res) => {
    closed = once(res, 'close')
    return undefined
  })
  // The messages' deadlines pass when the test fires them, once the batch is written.
  const timers = manualTimers()
  const { sender, held } = await busySender(t, bus, { timers }, LONGER)
  const queued = ['c', 'd'].map((id) => sender.send(message(id), LONG).catch((e: unknown) => e))
  bus.holding = false
  bus.release(1)
  await bus.received(4)
  assert.deepEqual(bus.batches().map(ids), [['c', 'd']])
  timers.fire(LONG.timeout)
  for (const error of await Promise.all(queued)) assert.ok(error instanceof TimeoutError)
  await closed
  bus.release(1)
  await Promise.all(held)
})

test('a batch whose connection was refused is tried again without the messages that gave up meanwhile', async (t) => {
  const bus = await startBus(t)
  const controller = new AbortController()
  const reason = new Error('the caller gave up')
  let refused = false
  class RefusingOnce extends Agent {
    override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) {
      if (options.path !== '/send' || refused) return super.dispatch(options, handler)
      refused = true
      queueMicrotask(() => {
        controller.abort(reason)
        const error = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
        handler.onResponseError?.(undefined as never, error)
      })
      return true
    }
  }
  const agent = new RefusingOnce()
  t.after(() => agent.close())
  const { sender, held } = await busySender(t, bus, { dispatcher: agent })
  const c = sender.send(message('c'), SEND)
  const aborted = sender.send(message('aborted'), { ...SEND, signal: controller.signal })
  const e = sender.send(message('e'), SEND)
  bus.holding = false
  bus.release(1)
  await assert.rejects(aborted, (error) => error === reason)
  await Promise.all([c, e])
  assert.deepEqual(bus.batches().map(ids), [['c', 'e']])
  bus.release(1)
  await Promise.all(held)
})

test("a batch's request gets undici timeouts from the latest deadline among its messages", async (t) => {
  const bus = await startBus(t)
  const { agent, seen } = recordingAgent(t)
  const { sender, held } = await busySender(t, bus, { dispatcher: agent })
  const queued = [2000, 9000, 5000].map((timeout, index) =>
    sender.send(message(`m${index}`), { timeout }),
  )
  bus.holding = false
  bus.release(2)
  await Promise.all([...held, ...queued])
  const batch = seen.find((options) => options.path === '/send')
  const timeout = Number(batch?.headersTimeout)
  assert.ok(timeout > 8000 && timeout <= 9000, `${timeout}`)
  assert.equal(batch?.bodyTimeout, timeout)
})

// --- sizes ---

test(`a batch carries at most ${MAX_BATCH_MESSAGES} messages; the rest leave when a request ends`, async (t) => {
  const bus = await startBus(t)
  const { sender, held } = await busySender(t, bus)
  const queued = Array.from({ length: 300 }, (_, index) => sender.send(message(`m${index}`), SEND))
  bus.holding = false
  bus.release(1)
  await Promise.all(queued)
  assert.deepEqual(
    bus.batches().map((entries) => entries.length),
    [MAX_BATCH_MESSAGES, 300 - MAX_BATCH_MESSAGES],
  )
  assert.deepEqual(
    bus.batches().flatMap(ids),
    Array.from({ length: 300 }, (_, index) => `m${index}`),
  )
  bus.release(1)
  await Promise.all(held)
})

test(`a batch stays under ${MAX_BATCH_BYTES} bytes, and a larger message goes alone at once`, async (t) => {
  const bus = await startBus(t)
  const { sender, held } = await busySender(t, bus)
  const huge = sender.send(message('huge', { payload: 'x'.repeat(MAX_BATCH_BYTES) }), SEND)
  await bus.received(4)
  assert.equal(bus.requests[3]?.url, '/send/users.huge')
  const third = 'y'.repeat(MAX_BATCH_BYTES / 3)
  const queued = ['c', 'd', 'e', 'f'].map((id) =>
    sender.send(message(id, { payload: third }), SEND),
  )
  bus.holding = false
  bus.release(3)
  await Promise.all([...held, huge, ...queued])
  const batches = bus.requests.filter((request) => request.url === '/send')
  assert.deepEqual(bus.batches().map(ids), [
    ['c', 'd'],
    ['e', 'f'],
  ])
  for (const batch of batches) assert.ok(Buffer.byteLength(batch.body) <= MAX_BATCH_BYTES)
})

// --- close ---

test('close() sends the messages waiting for a batch before it resolves', async (t) => {
  const bus = await startBus(t)
  const { sender, held } = await busySender(t, bus)
  const order: string[] = []
  const queued = ['c', 'd', 'e'].map((id) =>
    sender.send(message(id), SEND).then(() => order.push(id)),
  )
  const closed = sender.close().then(() => order.push('closed'))
  await assert.rejects(sender.send(message('after'), SEND), isCode(ErrorCodes.CLOSED))
  bus.holding = false
  bus.release(2)
  await Promise.all([...held, ...queued, closed])
  assert.equal(order.at(-1), 'closed')
  assert.deepEqual(bus.batches().map(ids), [['c', 'd', 'e']])
})

// --- options ---

test('invalid batches or batchAfter options throw INVALID_OPTION', () => {
  const invalid: unknown[] = [
    { batches: 'yes' },
    { batches: 1 },
    { batches: null },
    { batchAfter: 0 },
    { batchAfter: -1 },
    { batchAfter: 1.5 },
    { batchAfter: '2' },
    { batchAfter: Number.POSITIVE_INFINITY },
  ]
  for (const options of invalid) {
    assert.throws(
      () => new UndiciSender({ exocomPort: 3100, ...(options as object) }),
      (error: unknown) => {
        assert.equal((error as { code?: unknown }).code, ErrorCodes.INVALID_OPTION)
        assert.match((error as Error).message, /^The (batches|batchAfter) option must be/)
        return true
      },
      inspect(options),
    )
  }
  assert.doesNotThrow(() => new UndiciSender({ exocomPort: 3100, batches: false, batchAfter: 1 }))
})
