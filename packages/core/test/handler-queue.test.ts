import assert from 'node:assert/strict'
import { test } from 'node:test'
import { HandlerQueue } from '../src/handler-queue.js'

function deferred() {
  let resolve!: () => void
  const promise = new Promise<void>((res) => {
    resolve = res
  })
  return { promise, resolve }
}

test('work beyond the concurrency waits in the queue and starts when a slot frees', async () => {
  const queue = new HandlerQueue(1, 5)
  const first = deferred()
  const started: string[] = []
  queue.track(first.promise)
  assert.equal(queue.hasCapacity, false)
  assert.equal(
    queue.enqueue(() => {
      started.push('second')
      return undefined
    }),
    true,
  )
  assert.deepEqual([queue.running, queue.queued], [1, 1])
  first.resolve()
  assert.equal(await queue.idle(60_000), true)
  assert.deepEqual(started, ['second'])
  assert.deepEqual([queue.running, queue.queued], [0, 0])
})

test('a full queue refuses more work', () => {
  const queue = new HandlerQueue(1, 1)
  queue.track(new Promise(() => {}))
  assert.equal(
    queue.enqueue(() => undefined),
    true,
  )
  assert.equal(
    queue.enqueue(() => undefined),
    false,
  )
  assert.equal(queue.queued, 1)
})

test('work that failed frees its slot like work that succeeded', async () => {
  const queue = new HandlerQueue(1, 0)
  queue.track(Promise.reject(new Error('handled elsewhere')).catch(() => {}))
  assert.equal(await queue.idle(60_000), true)
  assert.equal(queue.hasCapacity, true)
})

test('idle() gives up with false at its timeout while work still runs', async () => {
  const queue = new HandlerQueue(2, 0)
  queue.track(new Promise(() => {}))
  assert.equal(await queue.idle(10), false)
  assert.equal(queue.running, 1)
})

test('idle() resolves at once when nothing runs', async () => {
  assert.equal(await new HandlerQueue(1, 0).idle(Number.POSITIVE_INFINITY), true)
})
