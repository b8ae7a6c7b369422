import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes, TransportError } from '@exorelay/core'
import {
  describeCause,
  isUndiciTimeout,
  noReceiverError,
  refusedError,
  unreachableError,
} from '../src/bus-errors.js'

test('noReceiverError is a NO_RECEIVER TransportError with the status and the body', () => {
  const error = noReceiverError('users.create', 404, 'no receivers')
  assert.ok(error instanceof TransportError)
  assert.equal(error.code, ErrorCodes.NO_RECEIVER)
  assert.equal(error.status, 404)
  assert.equal(
    error.message,
    "No service receives the message 'users.create' (ExoCom answered 404: no receivers).",
  )
  assert.equal(
    noReceiverError('a', 404, '').message,
    "No service receives the message 'a' (ExoCom answered 404).",
  )
})

test('refusedError is a BUS_REFUSED TransportError naming what was refused', () => {
  const error = refusedError("the message 'users.create'", 500, 'boom')
  assert.equal(error.code, ErrorCodes.BUS_REFUSED)
  assert.equal(error.status, 500)
  assert.equal(error.message, "ExoCom refused the message 'users.create' (answered 500: boom).")
})

test('unreachableError keeps the cause and names the origin', () => {
  const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3100'), {
    code: 'ECONNREFUSED',
  })
  const error = unreachableError('http://localhost:3100', cause)
  assert.equal(error.code, ErrorCodes.BUS_UNREACHABLE)
  assert.equal(error.cause, cause)
  assert.equal(error.status, undefined)
  assert.equal(
    error.message,
    'ExoCom at http://localhost:3100 is unreachable: connect ECONNREFUSED 127.0.0.1:3100.',
  )
})

test('unreachableError says how many attempts were refused when it is told', () => {
  const cause = new Error('connect ECONNREFUSED 127.0.0.1:3100')
  assert.equal(
    unreachableError('http://localhost:3100', cause, 1).message,
    'ExoCom at http://localhost:3100 is unreachable: connect ECONNREFUSED 127.0.0.1:3100 (1 attempt).',
  )
  assert.equal(
    unreachableError('http://localhost:3100', cause, 5).message,
    'ExoCom at http://localhost:3100 is unreachable: connect ECONNREFUSED 127.0.0.1:3100 (5 attempts).',
  )
})

test('describeCause reads the inner errors of an AggregateError with an empty message', () => {
  const aggregate = new AggregateError(
    [new Error('connect ECONNREFUSED ::1:3100'), new Error('connect ECONNREFUSED 127.0.0.1:3100')],
    '',
  )
  assert.equal(
    describeCause(aggregate),
    'connect ECONNREFUSED ::1:3100; connect ECONNREFUSED 127.0.0.1:3100',
  )
  assert.equal(describeCause(Object.assign(new Error(''), { code: 'ECONNRESET' })), 'ECONNRESET')
  assert.equal(describeCause('plain'), 'plain')
})

test('isUndiciTimeout recognises the headers and body timeouts by code only', () => {
  assert.equal(isUndiciTimeout({ code: 'UND_ERR_HEADERS_TIMEOUT' }), true)
  assert.equal(isUndiciTimeout({ code: 'UND_ERR_BODY_TIMEOUT' }), true)
  assert.equal(isUndiciTimeout({ code: 'UND_ERR_CONNECT_TIMEOUT' }), false)
  assert.equal(isUndiciTimeout(null), false)
})
