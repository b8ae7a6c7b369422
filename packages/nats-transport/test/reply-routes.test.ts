import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MAX_ROUTE_TTL, ReplyRoutes, ROUTE_GRACE } from '../src/reply-routes.js'

function clock(start = 0): { now: () => number; advance: (ms: number) => void } {
  let time = start
  return { now: () => time, advance: (ms) => (time += ms) }
}

test('a route is found until its request timeout and the grace have passed', () => {
  const time = clock()
  const routes = new ReplyRoutes({ now: time.now })
  routes.remember('request-1', '_INBOX.a.r', 1_000)
  time.advance(1_000 + ROUTE_GRACE - 1)
  assert.equal(routes.get('request-1'), '_INBOX.a.r')
  time.advance(1)
  assert.equal(routes.get('request-1'), undefined)
  assert.equal(routes.size, 0)
})

test('a route serves several replies to the same request', () => {
  const routes = new ReplyRoutes()
  routes.remember('request-1', '_INBOX.a.r', 10_000)
  assert.equal(routes.get('request-1'), '_INBOX.a.r')
  assert.equal(routes.get('request-1'), '_INBOX.a.r')
})

test('expired routes are swept as new ones arrive', () => {
  const time = clock()
  const routes = new ReplyRoutes({ now: time.now })
  for (let i = 0; i < 100; i++) routes.remember(`old-${i}`, '_INBOX.a.r', 1_000)
  time.advance(1_000 + ROUTE_GRACE)
  routes.remember('new', '_INBOX.b.r', 1_000)
  assert.equal(routes.size, 1)
})

test('the limit drops the oldest routes first', () => {
  const routes = new ReplyRoutes({ limit: 3 })
  for (const id of ['a', 'b', 'c', 'd']) routes.remember(id, `_INBOX.${id}.r`, 10_000)
  assert.equal(routes.size, 3)
  assert.equal(routes.get('a'), undefined)
  assert.equal(routes.get('d'), '_INBOX.d.r')
})

test('a request that waits for ever is remembered for an hour at most', () => {
  const time = clock()
  const routes = new ReplyRoutes({ now: time.now })
  routes.remember('forever', '_INBOX.a.r', Number.POSITIVE_INFINITY)
  time.advance(MAX_ROUTE_TTL - 1)
  assert.equal(routes.get('forever'), '_INBOX.a.r')
  time.advance(1)
  assert.equal(routes.get('forever'), undefined)
})
