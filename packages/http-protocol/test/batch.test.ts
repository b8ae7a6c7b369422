import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes, ProtocolError } from '@exorelay/core'
import { statusOf } from '../src/answers.js'
import {
  BATCH_ACCEPTED,
  batchEntry,
  batchFailure,
  MAX_BATCH_MESSAGES,
  offersBatches,
  parseBatch,
  parseBatchResults,
  tookNoneOfBatch,
} from '../src/batch.js'

test('parseBatch reads each entry into an envelope, its name taken from the entry', () => {
  const parsed = parseBatch([
    { name: 'users.create', id: '1', sender: 'web', payload: { name: 'Will' } },
    { name: 'users.created', id: '2', responseTo: '1', payload: 'ok', extra: 'ignored' },
  ])
  assert.deepEqual(parsed, [
    { name: 'users.create', id: '1', sender: 'web', payload: { name: 'Will' } },
    { name: 'users.created', id: '2', responseTo: '1', payload: 'ok' },
  ])
})

test('parseBatch answers a bad entry with the error the single route raises, and keeps the others', () => {
  const parsed = parseBatch([
    { name: 'a', id: '1' },
    { name: 'a' },
    { id: '3' },
    'not a message',
    null,
    [],
    { name: 'b', id: 7 },
    { name: 'c', id: '8' },
  ])
  assert.deepEqual(parsed[0], { name: 'a', id: '1' })
  const codes = parsed.slice(1, 7).map((entry) => {
    assert.ok(entry instanceof ProtocolError)
    return [entry.code, statusOf(entry.code)]
  })
  assert.deepEqual(codes, [
    [ErrorCodes.MISSING_ID, 400],
    [ErrorCodes.UNKNOWN_MESSAGE, 404],
    [ErrorCodes.INVALID_MESSAGE, 400],
    [ErrorCodes.INVALID_MESSAGE, 400],
    [ErrorCodes.INVALID_MESSAGE, 400],
    [ErrorCodes.INVALID_MESSAGE, 400],
  ])
  assert.match(
    (parsed[3] as ProtocolError).message,
    /a batch entry must be a JSON object, got 'not a message'/,
  )
  assert.deepEqual(parsed[7], { name: 'c', id: '8' })
})

test('parseBatch refuses a body that is not an array of 1 to 256 entries as a whole', () => {
  const entry = { name: 'a', id: '1' }
  for (const [body, text] of [
    [{ name: 'a', id: '1' }, /must be a JSON array of messages, got an object/],
    ['[]', /must be a JSON array of messages, got '\[\]'/],
    [undefined, /got undefined/],
    [[], /1 to 256 messages, got 0/],
    [Array.from({ length: MAX_BATCH_MESSAGES + 1 }, () => entry), /1 to 256 messages, got 257/],
  ] as const) {
    assert.throws(
      () => parseBatch(body),
      (error: unknown) =>
        error instanceof ProtocolError &&
        error.code === ErrorCodes.INVALID_MESSAGE &&
        text.test(error.message),
    )
  }
  assert.equal(parseBatch(Array.from({ length: MAX_BATCH_MESSAGES }, () => entry)).length, 256)
})

test('parseBatchResults reads one result per message and keeps code and text of failures', () => {
  const results = parseBatchResults(
    [
      { status: 200 },
      { status: 404, code: ErrorCodes.NO_RECEIVER, error: "no receivers for 'x'" },
      { status: 500, code: 7, error: null },
    ],
    3,
  )
  assert.deepEqual(results, [
    { status: 200 },
    { status: 404, code: ErrorCodes.NO_RECEIVER, error: "no receivers for 'x'" },
    { status: 500 },
  ])
})

test('parseBatchResults refuses an answer that cannot say which messages were taken', () => {
  for (const [body, text] of [
    [undefined, /a batch of 2 must be a JSON array of 2 results, got undefined/],
    [[{ status: 200 }], /of 2 results, got 1/],
    [[{ status: 200 }, {}], /result 1 of a batch answer has no valid status, got undefined/],
    [[{ status: 200 }, { status: 99 }], /result 1 .* got number 99/],
    [[{ status: 200 }, { status: 200.5 }], /result 1 .* got number 200.5/],
    [[null, { status: 200 }], /result 0/],
  ] as const) {
    assert.throws(
      () => parseBatchResults(body, 2),
      (error: unknown) =>
        error instanceof ProtocolError &&
        error.code === ErrorCodes.INVALID_MESSAGE &&
        text.test(error.message),
    )
  }
})

test('the shared accepted result cannot be changed; failures carry status, code and text', () => {
  assert.ok(Object.isFrozen(BATCH_ACCEPTED))
  assert.deepEqual(BATCH_ACCEPTED, { status: 200 })
  assert.deepEqual(batchFailure(503, ErrorCodes.NOT_LISTENING, 'not listening'), {
    status: 503,
    code: ErrorCodes.NOT_LISTENING,
    error: 'not listening',
  })
})

test('batchEntry puts the name in front of a single-route body, also of an empty one', () => {
  assert.equal(
    batchEntry('users.create', '{"id":"1","payload":{"a":1}}'),
    '{"name":"users.create","id":"1","payload":{"a":1}}',
  )
  assert.equal(batchEntry('a"b', '{}'), '{"name":"a\\"b"}')
  assert.deepEqual(JSON.parse(batchEntry('x', '{"id":"2"}')), { name: 'x', id: '2' })
})

test('tookNoneOfBatch is true for 404, 405 and 413 only', () => {
  assert.deepEqual(
    [200, 400, 401, 404, 405, 413, 500, 503].filter(tookNoneOfBatch),
    [404, 405, 413],
  )
})

test('offersBatches reads only {"batches": true} as an offer', () => {
  assert.equal(offersBatches('{"batches":true}'), true)
  assert.equal(offersBatches(' { "batches" : true, "other": 1 } '), true)
  for (const body of ['', '{}', '{"batches":false}', '{"batches":"true"}', 'null', '[]', 'ok']) {
    assert.equal(offersBatches(body), false, body)
  }
})
