import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatMessageLine } from '../src/message-log.js'

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
