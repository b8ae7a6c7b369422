import assert from 'node:assert/strict'
import { test } from 'node:test'
import { globMatcher } from '../src/glob-pattern.js'

test('* matches any run of characters, also none and across dots and slashes', () => {
  const match = globMatcher('users.*')
  assert.equal(match('users.create'), true)
  assert.equal(match('users.'), true)
  assert.equal(match('users.a/b.c'), true)
  assert.equal(match('users'), false)
  assert.equal(match('orders.users.create'), false, 'the whole name, not a part of it')
  assert.equal(globMatcher('*created')('users.created'), true)
  assert.equal(globMatcher('*')(''), true)
})

test('? matches one character; every other character, the dot too, stands for itself', () => {
  assert.equal(globMatcher('user?')('users'), true)
  assert.equal(globMatcher('user?')('user'), false)
  assert.equal(globMatcher('users.create')('usersXcreate'), false)
  assert.equal(globMatcher('a+(b)[c]^$|{d}\\')('a+(b)[c]^$|{d}\\'), true)
  assert.equal(globMatcher('ü?')('üß'), true, 'by character, not by UTF-16 unit')
})
