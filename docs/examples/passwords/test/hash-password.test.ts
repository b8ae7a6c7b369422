import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hashPassword, SLOW_PASSWORD, verifyPassword } from '../src/hash-password.js'

test('a hash is a hex salt and a hex scrypt key separated by a colon', async () => {
  const stored = await hashPassword('secret')
  assert.match(stored, /^[0-9a-f]{32}:[0-9a-f]{128}$/)
})

test('hashing the same password twice gives different hashes, because each salt is new', async () => {
  const [first, second] = await Promise.all([hashPassword('secret'), hashPassword('secret')])
  assert.notEqual(first, second)
})

test('a hash verifies against its own password and not against another', async () => {
  const stored = await hashPassword('secret')
  assert.equal(await verifyPassword('secret', stored), true)
  assert.equal(await verifyPassword('Secret', stored), false)
})

test('a malformed stored hash never verifies', async () => {
  assert.equal(await verifyPassword('secret', 'not-a-hash'), false)
  assert.equal(await verifyPassword('secret', 'abcd:1234'), false)
})

test('hashing stops when its signal aborts, the slow password’s wait included', async () => {
  const reason = new Error('the caller waits no longer')
  await assert.rejects(hashPassword('secret', { signal: AbortSignal.abort(reason) }), reason)
  const hashing = new AbortController()
  const hash = hashPassword('secret', { signal: hashing.signal })
  hashing.abort(reason) // while scrypt runs
  await assert.rejects(hash, reason)
  const waiting = new AbortController()
  const slow = hashPassword(SLOW_PASSWORD, { signal: waiting.signal })
  waiting.abort(reason)
  await assert.rejects(slow, { name: 'AbortError', cause: reason })
})
