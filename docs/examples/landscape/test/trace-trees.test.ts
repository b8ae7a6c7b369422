import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { SpanRecord } from '../src/span-lines.js'
import { formatTrace, type ServiceSpan, TraceTrees } from '../src/trace-trees.js'

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'

function span(
  spanId: string,
  parentSpanId: string | undefined,
  name: string,
  start: number,
  more: Partial<SpanRecord> = {},
): SpanRecord {
  return {
    traceId: TRACE,
    spanId,
    ...(parentSpanId === undefined ? {} : { parentSpanId }),
    name,
    kind: 'INTERNAL',
    start,
    durationMs: 1,
    status: 'UNSET',
    attributes: {},
    ...more,
  }
}

// One POST /users as the services print it: in the order the spans ended, not as they nest.
const request: ServiceSpan[] = [
  {
    service: 'passwords',
    span: span('e', 'd', 'process passwords.encrypt', 40, { durationMs: 52.25 }),
  },
  {
    service: 'users',
    span: span('d', 'c', 'send passwords.encrypt', 30, {
      durationMs: 60,
      attributes: { 'exorelay.reply.outcome': 'passwords.encrypted' },
    }),
  },
  { service: 'users', span: span('f', 'c', 'send users.created', 95) },
  { service: 'users', span: span('c', 'b', 'process users.create', 20, { durationMs: 80 }) },
  {
    service: 'web',
    span: span('b', 'a', 'send users.create', 10, {
      durationMs: 95,
      attributes: { 'exorelay.reply.outcome': 'users.created' },
    }),
  },
  {
    service: 'web',
    span: span('a', undefined, 'POST /users', 0, {
      kind: 'SERVER',
      durationMs: 101.04,
      attributes: { 'http.response.status_code': 201 },
    }),
  },
]

test('a trace is drawn as a tree: each span under its parent, in the order they started, with the trace id on every line', () => {
  assert.deepEqual(formatTrace(request), [
    `${TRACE}  web        POST /users                        101.0 ms  ok (201)`,
    `${TRACE}  web          send users.create                 95.0 ms  ok (users.created)`,
    `${TRACE}  users          process users.create            80.0 ms  ok`,
    `${TRACE}  users            send passwords.encrypt        60.0 ms  ok (passwords.encrypted)`,
    `${TRACE}  passwords          process passwords.encrypt   52.3 ms  ok`,
    `${TRACE}  users            send users.created             1.0 ms  ok`,
  ])
})

test('a failed span shows its error type; a span whose parent is not there heads a tree of its own', () => {
  const lines = formatTrace([
    {
      service: 'web',
      span: span('b', 'a', 'send users.create', 10, {
        status: 'ERROR',
        attributes: { 'error.type': 'EXORELAY_ERR_REPLY_TIMEOUT' },
      }),
    },
    { service: 'users', span: span('c', 'b', 'process users.create', 20) },
    {
      service: 'users',
      span: span('x', 'gone', 'send __error', 30, { status: 'ERROR', statusMessage: 'boom' }),
    },
  ])
  assert.deepEqual(lines, [
    `${TRACE}  web    send users.create       1.0 ms  ERROR (EXORELAY_ERR_REPLY_TIMEOUT)`,
    `${TRACE}  users    process users.create  1.0 ms  ok`,
    `${TRACE}  users  send __error            1.0 ms  ERROR (boom)`,
  ])
})

test('a trace is drawn once it has been quiet for the settle time after its root ended, not before', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] })
  const drawn: string[][] = []
  const trees = new TraceTrees({ print: (lines) => drawn.push(lines), settle: 100 })
  const [first, ...rest] = request
  trees.add(first!.service, first!.span)
  for (const { service, span } of rest) {
    t.mock.timers.tick(99)
    trees.add(service, span)
  }
  t.mock.timers.tick(99)
  assert.equal(drawn.length, 0, 'drawn before it was quiet')
  t.mock.timers.tick(1)
  assert.deepEqual(drawn, [formatTrace(request)])
})

test('a trace without its root waits longer; a SERVER span that continues a client trace is a root', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] })
  const drawn: string[][] = []
  const trees = new TraceTrees({
    print: (lines) => drawn.push(lines),
    settle: 100,
    orphanWait: 5_000,
  })
  const [passwords, users] = request
  trees.add(passwords!.service, passwords!.span)
  t.mock.timers.tick(4_999)
  assert.equal(drawn.length, 0)
  t.mock.timers.tick(1)
  assert.equal(drawn.length, 1, 'a trace whose root never comes is drawn all the same')

  const server = span('s', 'client', 'POST /users', 0, { kind: 'SERVER' })
  trees.add('users', users!.span)
  trees.add('web', server)
  t.mock.timers.tick(100)
  assert.equal(drawn.length, 2)
})

test('flush draws every trace not drawn yet', () => {
  const drawn: string[][] = []
  const trees = new TraceTrees({ print: (lines) => drawn.push(lines) })
  trees.add('web', span('a', undefined, 'POST /users', 0, { traceId: 'one' }))
  trees.add('users', span('c', 'b', 'process users.create', 0, { traceId: 'two' }))
  trees.flush()
  assert.equal(drawn.length, 2)
  trees.flush()
  assert.equal(drawn.length, 2, 'a trace is drawn once')
})
