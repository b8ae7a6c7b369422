import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MAX_REQUEST_TTL, REQUEST_GRACE, RequestTable } from '../src/request-table.js'

function clock(start = 0): { now: () => number; advance: (ms: number) => void } {
  let time = start
  return { now: () => time, advance: (ms) => (time += ms) }
}

test('a route is found until its request timeout and the grace have passed', () => {
  const time = clock()
  const routes = new RequestTable<string>({ now: time.now })
  routes.remember('request-1', '_INBOX.a.r', 1_000)
  time.advance(1_000 + REQUEST_GRACE - 1)
  assert.equal(routes.get('request-1'), '_INBOX.a.r')
  time.advance(1)
  assert.equal(routes.get('request-1'), undefined)
  assert.equal(routes.size, 0)
})

test('a route serves several replies to the same request', () => {
  const routes = new RequestTable<string>()
  routes.remember('request-1', '_INBOX.a.r', 10_000)
  assert.equal(routes.get('request-1'), '_INBOX.a.r')
  assert.equal(routes.get('request-1'), '_INBOX.a.r')
})

test('the table holds at most its limit and drops the oldest first', () => {
  const routes = new RequestTable<string>({ limit: 4 })
  for (const id of ['a', 'b', 'c', 'd', 'e']) routes.remember(id, `_INBOX.${id}.r`, 10_000)
  assert.ok(routes.size <= 4)
  assert.equal(routes.get('a'), undefined)
  assert.equal(routes.get('d'), '_INBOX.d.r')
  assert.equal(routes.get('e'), '_INBOX.e.r')
  for (let i = 0; i < 1_000; i++) routes.remember(`flood-${i}`, '_INBOX.f.r', 10_000)
  assert.ok(routes.size <= 4)
  assert.equal(routes.get('flood-999'), '_INBOX.f.r')
})

test('entries older than an hour are dropped as new ones arrive, whatever their count', () => {
  const time = clock()
  const routes = new RequestTable<string>({ now: time.now })
  for (let i = 0; i < 100; i++) routes.remember(`old-${i}`, '_INBOX.a.r', 1_000)
  time.advance(MAX_REQUEST_TTL)
  routes.remember('new-1', '_INBOX.b.r', 1_000)
  time.advance(MAX_REQUEST_TTL)
  routes.remember('new-2', '_INBOX.b.r', 1_000)
  assert.equal(routes.size, 2)
})

test('a request that waits for ever is remembered for an hour at most', () => {
  const time = clock()
  const routes = new RequestTable<string>({ now: time.now })
  routes.remember('forever', '_INBOX.a.r', Number.POSITIVE_INFINITY)
  time.advance(MAX_REQUEST_TTL - 1)
  assert.equal(routes.get('forever'), '_INBOX.a.r')
  time.advance(1)
  assert.equal(routes.get('forever'), undefined)
})

test('take returns an entry once and forgets it', () => {
  const routes = new RequestTable<string>()
  routes.remember('request-1', '_INBOX.a.r', 10_000)
  assert.equal(routes.take('request-1'), '_INBOX.a.r')
  assert.equal(routes.take('request-1'), undefined)
  assert.equal(routes.size, 0)
})

test('entries dropped unused reach onDrop: expired, over the limit, replaced and cleared', () => {
  const time = clock()
  const dropped: string[] = []
  const table = new RequestTable<string>({
    limit: 2,
    now: time.now,
    onDrop: (value) => dropped.push(value),
  })
  table.remember('a', 'first a', 1_000)
  table.remember('a', 'second a', 1_000)
  assert.deepEqual(dropped, ['first a'])
  table.remember('b', 'b', 1_000)
  table.remember('c', 'c', 1_000)
  assert.deepEqual(dropped, ['first a', 'second a'])
  time.advance(1_000 + REQUEST_GRACE)
  assert.equal(table.get('b'), undefined)
  table.remember('d', 'd', 1_000)
  table.clear()
  assert.deepEqual(dropped, ['first a', 'second a', 'b', 'c', 'd'])
  assert.equal(table.size, 0)
})

test('a taken entry does not reach onDrop', () => {
  const dropped: string[] = []
  const table = new RequestTable<string>({ onDrop: (value) => dropped.push(value) })
  table.remember('a', 'a', 1_000)
  table.take('a')
  table.clear()
  assert.deepEqual(dropped, [])
})
