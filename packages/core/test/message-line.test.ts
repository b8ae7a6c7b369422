import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatMessageLine } from '../src/message-line.js'

test('a message delivered under its public name reads sender, name, receiver', () => {
  assert.equal(
    formatMessageLine('web', 'users.create', 'users.create', 'users'),
    'web  --[ users.create ]->  users',
  )
})

test('a translated message shows the public name and the name the receiver knows', () => {
  assert.equal(
    formatMessageLine('web', 'tweets.create', 'text-snippets.create', 'tweets'),
    'web  --[ tweets.create ]-[ text-snippets.create ]->  tweets',
  )
})

test('a reply a namespaced sender sent shows the name it sent, then the public name', () => {
  assert.equal(
    formatMessageLine('tweets', 'tweets.created', 'tweets.created', 'web', 'text-snippets.created'),
    'tweets  --[ text-snippets.created ]-[ tweets.created ]->  web',
  )
})

test('a message translated on both sides shows the sent, the public and the received name', () => {
  assert.equal(
    formatMessageLine(
      'tweets',
      'tweets.created',
      'notes.created',
      'notes',
      'text-snippets.created',
    ),
    'tweets  --[ text-snippets.created ]-[ tweets.created ]-[ notes.created ]->  notes',
  )
})
