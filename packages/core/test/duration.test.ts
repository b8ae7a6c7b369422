import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatDuration } from '../src/internal.js'

test('a duration reads as milliseconds, seconds, or minutes and seconds', () => {
  assert.equal(formatDuration(850.4), '850 ms')
  assert.equal(formatDuration(12_345), '12.3 s')
  assert.equal(formatDuration(245_000), '4 min 5 s')
})
