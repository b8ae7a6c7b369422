import { ErrorCodes } from '@exorelay/core'
import { ERROR_CODE_HEADER, type ErrorAnswer } from '@exorelay/http-protocol'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'

/**
 * Sends a non-2xx answer. The body stays plain text, as the original relay answered
 * (`missing message id`, `unknown message: 'x'`), so existing ExoCom installations read it;
 * the code travels in a header for clients that want to branch on it.
 */
export function sendErrorAnswer(reply: FastifyReply, answer: ErrorAnswer): void {
  reply
    .code(answer.status)
    .header('content-type', 'text/plain; charset=utf-8')
    .header(ERROR_CODE_HEADER, answer.code)
    .send(answer.text)
}

/**
 * Translates the errors Fastify raises while reading a request body (codes `FST_ERR_CTP_*`)
 * and while routing (`FST_ERR_BAD_URL`) into the protocol's answers. Returns `undefined` for
 * any other error: it did not come from reading the message, so it is not ours to answer.
 */
export function answerForFastifyError(
  error: FastifyError,
  request: FastifyRequest,
  bodyLimit: number,
): ErrorAnswer | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      // The original relay answered a missing body exactly like a body without an id.
      return { status: 400, code: ErrorCodes.MISSING_ID, text: 'missing message id' }
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      // Fastify raises this one error for malformed JSON and for prototype poisoning alike.
      return {
        status: 400,
        code: ErrorCodes.INVALID_MESSAGE,
        text: "message body is not valid JSON, or it contains a forbidden '__proto__' or 'constructor.prototype' key",
      }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': {
      const contentType = request.headers['content-type']
      return {
        status: 415,
        code: ErrorCodes.INVALID_MESSAGE,
        text: `only application/json is accepted, got ${contentType === undefined ? 'no content type' : `'${contentType}'`}`,
      }
    }
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        code: ErrorCodes.INVALID_MESSAGE,
        text: `message body is larger than the limit of ${bodyLimit} bytes`,
      }
    case 'FST_ERR_BAD_URL':
      return {
        status: 400,
        code: ErrorCodes.INVALID_MESSAGE,
        text: `the url '${request.url}' is not valid percent-encoding`,
      }
    default:
      if (error.code?.startsWith('FST_ERR_CTP_') && isClientError(error.statusCode)) {
        // Content-Length mismatches and whatever Fastify adds later: still a bad message.
        return { status: error.statusCode!, code: ErrorCodes.INVALID_MESSAGE, text: error.message }
      }
      return undefined
  }
}

function isClientError(status: number | undefined): boolean {
  return status !== undefined && status >= 400 && status < 500
}
