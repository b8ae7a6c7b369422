import assert from 'node:assert/strict'
import { test } from 'node:test'
import { errors } from 'undici'
import {
  DEFAULT_RETRY_BUDGET,
  FIRST_RETRY_DELAY,
  isNeverWritten,
  retryDelay,
} from '../src/retry.js'

function coded(code: string): Error {
  return Object.assign(new Error(code), { code })
}

test('the backoff starts at 25 ms and doubles, jittered by at most 20% either way', () => {
  assert.equal(FIRST_RETRY_DELAY, 25)
  assert.equal(DEFAULT_RETRY_BUDGET, 1000)
  assert.deepEqual(
    [1, 2, 3, 4].map((attempt) => retryDelay(attempt, () => 0.5)),
    [25, 50, 100, 200],
  )
  assert.deepEqual(
    [1, 2, 3].map((attempt) => [retryDelay(attempt, () => 0), retryDelay(attempt, () => 1)]),
    [
      [20, 30],
      [40, 60],
      [80, 120],
    ],
  )
})

test('the backoff never waits more than a second and a fifth, however many attempts', () => {
  assert.equal(
    retryDelay(10, () => 0.5),
    1000,
  )
  assert.equal(
    retryDelay(60, () => 1),
    1200,
  )
})

test('only refused connections and connect timeouts count as never written', () => {
  assert.equal(isNeverWritten(coded('ECONNREFUSED')), true)
  assert.equal(isNeverWritten(new errors.ConnectTimeoutError()), true)
  assert.equal(
    isNeverWritten(new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')])),
    true,
  )
  for (const error of [
    coded('ECONNRESET'),
    coded('EPIPE'),
    coded('ENOTFOUND'),
    coded('EAI_AGAIN'),
    coded('UND_ERR_SOCKET'),
    coded('UND_ERR_HEADERS_TIMEOUT'),
    new errors.SocketError('other side closed'),
    new AggregateError([coded('ECONNREFUSED'), coded('ECONNRESET')]),
    new AggregateError([]),
    new Error('no code'),
    'a string',
    null,
    undefined,
  ]) {
    assert.equal(isNeverWritten(error), false, String(error))
  }
})
