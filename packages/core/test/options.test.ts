import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes } from '../src/errors.js'
import {
  checkBoolean,
  checkInteger,
  checkNonEmptyString,
  checkPort,
  checkTimeout,
  invalidOption,
  missingOption,
} from '../src/options.js'

test('every check names the option, what it takes and what it got, coded INVALID_OPTION', () => {
  assert.throws(() => checkInteger(0, 'concurrency', 1), {
    code: ErrorCodes.INVALID_OPTION,
    message: 'The concurrency option must be a positive integer, got number 0.',
  })
  assert.throws(() => checkTimeout(-1, 'timeout'), {
    code: ErrorCodes.INVALID_OPTION,
    message:
      'The timeout option must be a positive number of milliseconds (or Infinity), got number -1.',
  })
  assert.throws(() => checkBoolean('yes', 'batches'), {
    message: "The batches option must be a boolean, got 'yes'.",
  })
  assert.throws(() => checkNonEmptyString('  ', 'host'), { code: ErrorCodes.INVALID_OPTION })
  assert.equal(invalidOption('x', 'y', null).message, 'The x option must be y, got null.')
  assert.equal(
    missingOption('serviceName', 'or SERVICE_NAME', undefined).code,
    ErrorCodes.MISSING_OPTION,
  )
})

test('an option named with its owner says whose option it is', () => {
  assert.throws(() => checkInteger(0, 'bodyLimit of exoRelayRoutes', 1), {
    code: ErrorCodes.INVALID_OPTION,
    message: 'The bodyLimit option of exoRelayRoutes must be a positive integer, got number 0.',
  })
  assert.equal(
    missingOption('receiver of exoRelayRoutes', '', undefined).message,
    'The receiver option of exoRelayRoutes is required, got undefined.',
  )
})

test('a missing option takes its fallback; a given one is checked even when a fallback exists', () => {
  assert.equal(checkInteger(undefined, 'n', 1, 5), 5)
  assert.equal(checkTimeout(undefined, 't', 10), 10)
  assert.equal(checkBoolean(undefined, 'b', true), true)
  assert.equal(checkNonEmptyString(undefined, 's', 'localhost'), 'localhost')
  assert.throws(() => checkInteger(null, 'n', 1, 5), { code: ErrorCodes.INVALID_OPTION })
  assert.equal(checkTimeout(Number.POSITIVE_INFINITY, 't'), Number.POSITIVE_INFINITY)
})

test('checkPort reads numbers and numeric strings alike; 0 is any free port, but not a port to connect to', () => {
  assert.equal(checkPort('4001'), 4001)
  assert.equal(checkPort(4001, 'exocomPort', { connect: true }), 4001)
  assert.equal(checkPort(0), 0)
  for (const port of ['zonk', '', -1, 65536, 1.5, null, Number.NaN]) {
    assert.throws(() => checkPort(port), { code: ErrorCodes.INVALID_OPTION }, String(port))
  }
  assert.throws(() => checkPort(0, 'exocomPort', { connect: true }), {
    message: 'The exocomPort option must be an integer from 1 to 65535, got number 0.',
  })
  assert.throws(() => checkPort('zonk'), { message: /'zonk'/ })
})
