import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ClosedError, ErrorCodes, ExoRelayError, ProtocolError } from '@exorelay/core'
import { answerOf, STATUS_OF_CODE, statusOf } from '../src/answers.js'

test('the original protocol keeps its statuses: 400 for a missing id, 404 for an unknown message', () => {
  assert.equal(statusOf(ErrorCodes.MISSING_ID), 400)
  assert.equal(statusOf(ErrorCodes.UNKNOWN_MESSAGE), 404)
  assert.equal(statusOf(ErrorCodes.HANDLER_FAILED), 500)
})

test('every bus code has a status of its own, none of them 200', () => {
  const busCodes = Object.values(ErrorCodes).filter((code) => code.startsWith('EXORELAY_ERR_BUS_'))
  assert.ok(busCodes.length >= 5)
  for (const code of busCodes) {
    const status = STATUS_OF_CODE[code]
    assert.ok(status !== undefined && status >= 400 && status < 600, `${code} has no status`)
  }
})

test('a code that is never answered over HTTP is answered 500 should it ever be', () => {
  assert.equal(statusOf(ErrorCodes.INVALID_HANDLER), 500)
})

test('answerOf takes the status from the code and the text from the message', () => {
  assert.deepEqual(answerOf(new ProtocolError(ErrorCodes.MISSING_ID, 'missing message id')), {
    status: 400,
    code: ErrorCodes.MISSING_ID,
    text: 'missing message id',
  })
  assert.deepEqual(answerOf(new ClosedError(ErrorCodes.BUS_CLOSING, 'ExoCom is shutting down')), {
    status: 503,
    code: ErrorCodes.BUS_CLOSING,
    text: 'ExoCom is shutting down',
  })
  assert.equal(answerOf(new ExoRelayError(ErrorCodes.OVERLOADED, 'busy')).status, 503)
})
