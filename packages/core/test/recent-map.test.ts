import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RecentMap } from '../src/recent-map.js'

test('the last generation-size entries are always kept, older ones up to twice as many', () => {
  const map = new RecentMap<number, string>(3)
  for (let i = 0; i < 7; i++) map.set(i, `v${i}`)
  // Generations: [0,1,2] dropped, [3,4,5] previous, [6] current.
  assert.equal(map.size, 4)
  assert.equal(map.get(2), undefined)
  for (const i of [3, 4, 5, 6]) assert.equal(map.get(i), `v${i}`)
})

test('the current generation wins over the previous one, and delete removes from both', () => {
  const map = new RecentMap<string, number>(2)
  map.set('a', 1)
  map.set('b', 2)
  map.set('a', 3)
  assert.equal(map.get('a'), 3)
  assert.equal(map.delete('a'), true)
  assert.equal(map.get('a'), undefined)
  assert.equal(map.delete('a'), false)
})

test('onDrop sees each value dropped with a generation or by clear, not those deleted', () => {
  const dropped: number[] = []
  const map = new RecentMap<string, number>(1, (value) => dropped.push(value))
  map.set('a', 1)
  map.set('b', 2)
  map.set('c', 3)
  assert.deepEqual(dropped, [1])
  map.delete('b')
  map.rotate()
  assert.deepEqual(dropped, [1])
  map.set('d', 4)
  map.clear()
  assert.deepEqual(dropped, [1, 3, 4])
  assert.equal(map.size, 0)
})

test('with a weight, a generation also ends once it would weigh more than its limit', () => {
  const dropped: string[] = []
  const map = new RecentMap<string, string>(1000, (value) => dropped.push(value), {
    limit: 10,
    of: (key, value) => key.length + value.length,
  })
  map.set('a', '1234') // 5
  map.set('b', '1234') // 10: still the first generation
  map.set('c', '1234') // 15 > 10: a new generation starts with it

  assert.deepEqual([map.get('a'), map.get('b'), map.get('c')], ['1234', '1234', '1234'])
  map.set('d', '1'.repeat(20)) // heavier than the limit alone: a generation of its own
  assert.deepEqual(dropped, ['1234', '1234'])
  assert.equal(map.get('a'), undefined)
  assert.equal(map.get('c'), '1234')
  assert.equal(map.size, 2)
})
