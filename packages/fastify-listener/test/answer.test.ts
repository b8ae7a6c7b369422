import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes } from '@exorelay/core'
import { errorCodes, type FastifyError, type FastifyRequest } from 'fastify'
import { answerForFastifyError, PHRASES } from '../src/answer.js'

const request = { headers: {}, url: '/run/hello' } as FastifyRequest

test('maps a content-length mismatch to 400 invalid message', () => {
  const answer = answerForFastifyError(
    new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH(),
    request,
    100,
    PHRASES,
  )

  assert.deepEqual(answer, {
    status: 400,
    code: ErrorCodes.INVALID_MESSAGE,
    text: 'Request body size did not match Content-Length',
  })
})

test('leaves errors that are not about reading the message unanswered', () => {
  const hookError = Object.assign(new Error('no credentials'), { statusCode: 401 }) as FastifyError
  const serverError = new errorCodes.FST_ERR_CTP_INVALID_TYPE()

  assert.equal(answerForFastifyError(hookError, request, 100, PHRASES), undefined)
  assert.equal(answerForFastifyError(serverError, request, 100, PHRASES), undefined)
})

test('quotes the content type it refused', () => {
  const answer = answerForFastifyError(
    new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(),
    { headers: { 'content-type': 'text/csv' }, url: '/run/hello' } as FastifyRequest,
    100,
    PHRASES,
  )

  assert.equal(answer?.status, 415)
  assert.equal(answer?.text, "only application/json is accepted, got 'text/csv'")
})
