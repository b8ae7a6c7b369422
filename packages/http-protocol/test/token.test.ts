import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes } from '@exorelay/core'
import { bearerIdentifier, bearerMatcher, checkToken } from '../src/token.js'

test('a bearer header with the token matches, with the scheme in any case and spaces around', () => {
  const matches = bearerMatcher('s3cret')
  assert.equal(matches('Bearer s3cret'), true)
  assert.equal(matches('bearer s3cret'), true)
  assert.equal(matches('BEARER  s3cret '), true)
})

test('anything else does not match: no header, another scheme, another token of any length', () => {
  const matches = bearerMatcher('s3cret')
  for (const header of [
    undefined,
    '',
    's3cret',
    'Bearer',
    'Bearer ',
    'Basic s3cret',
    'Bearer s3creT',
    'Bearer s3cre',
    'Bearer s3crets',
    'Bearer xxxxxx',
    ['Bearer s3cret'],
    42,
  ]) {
    assert.equal(matches(header), false, String(header))
  }
})

test('the token check refuses values that cannot travel in a header, without quoting them', () => {
  assert.equal(checkToken(undefined, 'The token option'), undefined)
  assert.equal(checkToken('abc.DEF-123', 'The token option'), 'abc.DEF-123')
  for (const token of ['', 'two words', 'grüße', 7, null]) {
    assert.throws(
      () => checkToken(token, 'The token option'),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, ErrorCodes.INVALID_OPTION)
        assert.match(error.message, /^The token option must be a non-empty string/)
        assert.ok(!error.message.includes('two words') && !error.message.includes('grüße'))
        return true
      },
    )
  }
})

test('among several tokens, a bearer header finds the value of its own, and nothing else does', () => {
  const identify = bearerIdentifier([
    ['token-of-users', 'users'],
    ['token-of-web', 'web'],
  ])
  assert.equal(identify('Bearer token-of-users'), 'users')
  assert.equal(identify('bearer token-of-web '), 'web')
  for (const header of [undefined, '', 'Bearer', 'Bearer token-of-user', 'token-of-web', 7]) {
    assert.equal(identify(header), undefined, String(header))
  }
  assert.equal(bearerIdentifier([])('Bearer x'), undefined)
})
