import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes } from '../src/index.js'
import { defaultLogFormat } from '../src/internal.js'

test('logs are pretty on a terminal and JSON lines elsewhere', () => {
  assert.equal(defaultLogFormat({}, { isTTY: true }), 'pretty')
  assert.equal(defaultLogFormat({}, { isTTY: false }), 'json')
  assert.equal(defaultLogFormat({}, {}), 'json')
})

test('LOG_FORMAT decides instead of the terminal; empty counts as unset', () => {
  assert.equal(defaultLogFormat({ LOG_FORMAT: 'json' }, { isTTY: true }), 'json')
  assert.equal(defaultLogFormat({ LOG_FORMAT: 'pretty' }, { isTTY: false }), 'pretty')
  assert.equal(defaultLogFormat({ LOG_FORMAT: '' }, { isTTY: true }), 'pretty')
})

test('another LOG_FORMAT is an INVALID_OPTION naming the variable and its values', () => {
  assert.throws(
    () => defaultLogFormat({ LOG_FORMAT: 'yaml' }, { isTTY: true }),
    (error: Error & { code: string }) => {
      assert.equal(error.code, ErrorCodes.INVALID_OPTION)
      assert.match(
        error.message,
        /^The LOG_FORMAT environment variable must be 'pretty' or 'json', got 'yaml'\./,
      )
      return true
    },
  )
})
