import { type ErrorCode, ErrorCodes } from '@exorelay/core'
import { ERROR_CODE_HEADER, type ErrorAnswer, statusOf } from '@exorelay/http-protocol'
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
 * The texts of the answers to requests Fastify could not read. What differs between the two
 * ExoCom HTTP peers is the style only: the relay answers lowercase phrases, as the original
 * relay did; the bus answers sentences. The statuses and the cases are the same.
 */
export interface AnswerTexts {
  /**
   * `'phrase'`: lowercase, no full stop, as the original relay answered (`missing message
   * id`); `'sentence'`: capitalised with a full stop (the bus).
   */
  readonly style: 'phrase' | 'sentence'
  /** The code of an empty JSON body. */
  readonly emptyBodyCode: ErrorCode
  readonly emptyBody: string
  /** Malformed JSON, or a prototype-poisoning key (Fastify raises one error for both). */
  readonly invalidJson: string
  mediaType(contentType: string | undefined): string
  tooLarge(bodyLimit: number): string
  /** A URL whose percent-encoding cannot be decoded. */
  badUrl(url: string): string
  /** Any other client error, from Fastify's message. */
  otherClientError(message: string): string
  /**
   * Whether every 4xx error is answered (`true`: the whole server is ours) or only those from
   * reading the body (`false`: others go on to the app's error handler).
   */
  readonly everyClientError: boolean
  /**
   * The text of a message whose name cannot be routed, given what is wrong with it. Without
   * it such a message gets core's text (`unknown message: '<name>'`).
   */
  invalidName?: ((name: unknown, problem: string) => string) | undefined
}

/** The relay's texts: lowercase phrases, the empty body answered like a body without an id. */
export const PHRASES: AnswerTexts = Object.freeze({
  style: 'phrase',
  // The original relay answered a missing body exactly like a body without an id.
  emptyBodyCode: ErrorCodes.MISSING_ID,
  emptyBody: 'missing message id',
  invalidJson:
    "message body is not valid JSON, or it contains a forbidden '__proto__' or 'constructor.prototype' key",
  mediaType: (contentType: string | undefined) =>
    `only application/json is accepted, got ${contentType === undefined ? 'no content type' : `'${contentType}'`}`,
  tooLarge: (bodyLimit: number) => `message body is larger than the limit of ${bodyLimit} bytes`,
  badUrl: (url: string) => `the url '${url}' is not valid percent-encoding`,
  otherClientError: (message: string) => message,
  everyClientError: false,
})

const INVALID_STATUS = statusOf(ErrorCodes.INVALID_MESSAGE)

/**
 * Translates the errors Fastify raises while reading a request body (codes `FST_ERR_CTP_*`)
 * and while routing (`FST_ERR_BAD_URL`) into the protocol's answers, in the style of `texts`.
 * Returns `undefined` for any other error: it did not come from reading the message, so it is
 * not ours to answer.
 */
export function answerForFastifyError(
  error: FastifyError,
  request: FastifyRequest,
  bodyLimit: number,
  texts: AnswerTexts,
): ErrorAnswer | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return {
        status: statusOf(texts.emptyBodyCode),
        code: texts.emptyBodyCode,
        text: texts.emptyBody,
      }
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: INVALID_STATUS, code: ErrorCodes.INVALID_MESSAGE, text: texts.invalidJson }
    // 415 and 413 are the HTTP layer's own statuses beside the code (see STATUS_OF_CODE).
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        code: ErrorCodes.INVALID_MESSAGE,
        text: texts.mediaType(request.headers['content-type']),
      }
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      // A route may have a limit of its own (the bus's registrations).
      return {
        status: 413,
        code: ErrorCodes.INVALID_MESSAGE,
        text: texts.tooLarge(request.routeOptions?.bodyLimit ?? bodyLimit),
      }
    case 'FST_ERR_BAD_URL':
      return {
        status: INVALID_STATUS,
        code: ErrorCodes.INVALID_MESSAGE,
        text: texts.badUrl(request.url),
      }
    default:
      if (
        isClientError(error.statusCode) &&
        (texts.everyClientError || error.code?.startsWith('FST_ERR_CTP_'))
      ) {
        // Content-Length mismatches and whatever Fastify adds later: still a bad message.
        return {
          status: error.statusCode!,
          code: ErrorCodes.INVALID_MESSAGE,
          text: texts.otherClientError(error.message),
        }
      }
      return undefined
  }
}

function isClientError(status: number | undefined): boolean {
  return status !== undefined && status >= 400 && status < 500
}
