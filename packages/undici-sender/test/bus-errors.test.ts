import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes, TransportError } from '@exorelay/core'
import {
  answerText,
  describeCause,
  isUndiciTimeout,
  noReceiverError,
  refusal,
  refusedError,
  unreachableError,
} from '../src/bus-errors.js'

test('noReceiverError says it once, names where the routes are listed, and quotes only what another bus added', () => {
  const hint =
    "ExoCom lists its routes at GET http://localhost:3100/config.json: the service that handles it may not be running or not registered yet, or registers no handler for 'users.delete'."
  const error = noReceiverError(
    'users.delete',
    404,
    "No service receives the message 'users.delete'.",
    'http://localhost:3100',
  )
  assert.ok(error instanceof TransportError)
  assert.equal(error.code, ErrorCodes.NO_RECEIVER)
  assert.equal(error.status, 404)
  assert.equal(error.message, `No service receives the message 'users.delete'. ${hint}`)
  assert.equal(
    noReceiverError('users.delete', 404, '', 'http://localhost:3100').message,
    `No service receives the message 'users.delete'. ${hint}`,
  )
  assert.equal(
    noReceiverError('users.delete', 404, 'no receivers', 'http://localhost:3100').message,
    `No service receives the message 'users.delete' (ExoCom answered 404: no receivers). ${hint}`,
  )
})

test('refusedError is a BUS_REFUSED TransportError naming what was refused', () => {
  const error = refusedError("the message 'users.create'", 500, 'boom')
  assert.equal(error.code, ErrorCodes.BUS_REFUSED)
  assert.equal(error.status, 500)
  assert.equal(error.message, "ExoCom refused the message 'users.create' (answered 500: boom).")
})

test('a 503 RECEIVER_BUSY keeps its code and is the bus sentence, quoted whole; without one it still says what to do', () => {
  const sentence = `ExoCom did not accept the message 'orders.create': its receiver 'orders' has 10000 messages under way, as many as ExoCom holds for one receiver (maxPending 10000). Nothing was delivered. The receiver is slow or hung: find out why it does not answer, or send less at once; raise ExoCom's maxPending if the receiver keeps up with more. Send it again later.`
  const quoted = answerText(sentence, ErrorCodes.BUS_RECEIVER_BUSY)
  assert.equal(quoted, sentence)

  const error = refusal("the message 'orders.create'", 503, ErrorCodes.BUS_RECEIVER_BUSY, quoted)
  assert.ok(error instanceof TransportError)
  assert.equal(error.code, ErrorCodes.BUS_RECEIVER_BUSY)
  assert.equal(error.status, 503)
  assert.equal(error.message, sentence)

  const bare = refusal("the message 'orders.create'", 503, ErrorCodes.BUS_RECEIVER_BUSY, '')
  assert.equal(
    bare.message,
    "ExoCom refused the message 'orders.create' (answered 503): one of its receivers has as many messages under way as ExoCom holds. Send it again later.",
  )
  // A 503 without the code (a proxy's, ExoCom closing) stays BUS_REFUSED.
  assert.equal(refusal('x', 503, undefined, 'busy').code, ErrorCodes.BUS_REFUSED)
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
    "ExoCom at http://localhost:3100 is unreachable: connect ECONNREFUSED 127.0.0.1:3100. Start the bus (npx exocom --port 3100), or set EXOCOM_HOST and EXOCOM_PORT (the exocomHost and exocomPort options) to where it runs: they are 'localhost' and 3100 now.",
  )
})

test('unreachableError says how many attempts were refused when it is told', () => {
  const cause = new Error('connect ECONNREFUSED 127.0.0.1:3100')
  assert.match(
    unreachableError('http://localhost:3100', cause, 1).message,
    /^ExoCom at http:\/\/localhost:3100 is unreachable: connect ECONNREFUSED 127\.0\.0\.1:3100 \(1 attempt\)\. Start the bus/,
  )
  assert.match(
    unreachableError('http://[::1]:3101', cause, 5).message,
    / \(5 attempts\)\. Start the bus \(npx exocom --port 3101\), .* they are '\[::1\]' and 3101 now\.$/,
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
