import {
  type Envelope,
  type ErrorCode,
  ErrorCodes,
  ProtocolError,
  parseEnvelope,
} from '@exorelay/core'
import { describeValue } from '@exorelay/core/internal'

/**
 * The batch extension of the ExoCom HTTP protocol (decision 0011, docs/protocol.md): several
 * messages in one HTTP exchange, `POST /send` to the bus and `POST /run` to a relay, each a
 * JSON array of messages, each an envelope with its `name` in the body (`JSON.stringify` of an
 * `Envelope` is one entry). Only between parties that offered it
 * (a relay in its registration, ExoCom in its answer), so the original protocol is untouched.
 */

/** Most messages one batch carries. */
export const MAX_BATCH_MESSAGES = 256

/**
 * A batch stops growing once its body would pass this many bytes: a quarter of the default
 * body limit, so that a batch is never refused for its size by a peer with default limits.
 */
export const MAX_BATCH_BYTES = 262_144

/**
 * Requests to one peer under way before further messages wait and leave together, as one
 * batch, when one of those requests ends. Below it every message goes out at once, alone: a
 * quiet service pays no latency for batching, a busy one sends fewer, larger requests.
 */
export const DEFAULT_BATCH_AFTER = 2

/**
 * Bytes of the answer to a batch read at most: one result per message, each a status and at
 * most a code and a short text, is far less (256 results with long texts fit well within it).
 * A longer answer is no answer either side understands, and a rogue peer cannot stream into
 * the reader.
 */
export const MAX_BATCH_RESULTS_BYTES = 1024 * 1024

/** Path of a batch to the bus. */
export const SEND_BATCH_PATH = '/send'

/** Path of a batch to a relay. */
export const RUN_BATCH_PATH = '/run'

/**
 * What the receiving side answers for one message of a batch, in the order of the batch:
 * the status the single-message route would have answered for it, and on anything but 2xx
 * the error code and the text that route would have put in its header and body.
 */
export interface BatchResult {
  readonly status: number
  readonly code?: ErrorCode
  readonly error?: string
  /**
   * Seconds after which the message may be sent again, when it was refused for a while only
   * (503 `EXORELAY_ERR_BUS_RECEIVER_BUSY`): the single route's `retry-after` header.
   */
  readonly retryAfter?: number
}

/**
 * A message's entry in a batch: its single-route `body` (a JSON object) with its `name` in
 * front, so that no message is serialised twice. An empty body `{}` becomes `{"name":"x"}`.
 */
export function batchEntry(name: string, body: string): string {
  const head = `{"name":${JSON.stringify(name)}`
  return body === '{}' ? `${head}}` : `${head},${body.slice(1)}`
}

/**
 * The body of an answer to a registration that offers batches (the bus's answer to
 * `PUT /services/<name>`, decision 0011). The original ExoCom answers an empty body: no offer.
 */
export const BATCHES_OFFERED: Readonly<{ batches: true }> = Object.freeze({ batches: true })

/** Whether the body of a registration answer offers batches: `{"batches": true}`. */
export function offersBatches(body: string): boolean {
  try {
    return (JSON.parse(body) as { batches?: unknown } | null)?.batches === true
  } catch {
    // The original ExoCom answers an empty body: no offer.
    return false
  }
}

/**
 * Whether a peer's answer to a whole batch means it took none of its messages: 404 or 405 (it
 * has no batch route) or 413 (its body limit is under the batch's size). Each message may then
 * go again alone, and no batch should go to that peer until it offers batches again.
 */
export function tookNoneOfBatch(status: number): boolean {
  return status === 404 || status === 405 || status === 413
}

/** The answer for a message that was accepted. One shared object: it is never changed. */
export const BATCH_ACCEPTED: BatchResult = Object.freeze({ status: 200 })

/**
 * Reads the body of a batch. Throws a `ProtocolError` (`INVALID_MESSAGE`) when the body is not
 * a non-empty array of at most `MAX_BATCH_MESSAGES` entries; the whole batch is then refused.
 * Otherwise returns one entry per message, in order: its envelope, or the `ProtocolError` the
 * single-message route would have raised for it (its status: `statusOf(error.code)`).
 * One bad message never costs the others their delivery.
 */
export function parseBatch(body: unknown): Array<Envelope | ProtocolError> {
  if (!Array.isArray(body)) {
    throw new ProtocolError(
      ErrorCodes.INVALID_MESSAGE,
      `a batch must be a JSON array of messages, got ${describeValue(body)}`,
    )
  }
  if (body.length === 0 || body.length > MAX_BATCH_MESSAGES) {
    throw new ProtocolError(
      ErrorCodes.INVALID_MESSAGE,
      `a batch must hold 1 to ${MAX_BATCH_MESSAGES} messages, got ${body.length}`,
    )
  }
  const parsed = new Array<Envelope | ProtocolError>(body.length)
  for (let index = 0; index < body.length; index++) {
    parsed[index] = parseItem(body[index])
  }
  return parsed
}

function parseItem(item: unknown): Envelope | ProtocolError {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) {
    return new ProtocolError(
      ErrorCodes.INVALID_MESSAGE,
      `a batch entry must be a JSON object, got ${describeValue(item)}`,
    )
  }
  try {
    return parseEnvelope((item as { name?: unknown }).name, item)
  } catch (error) {
    if (error instanceof ProtocolError) return error
    throw error
  }
}

/**
 * The result of a message refused with `status`, its `code` and the route's text; with
 * `retryAfter`, the seconds after which it may be sent again.
 */
export function batchFailure(
  status: number,
  code: ErrorCode,
  error: string,
  retryAfter?: number,
): BatchResult {
  return retryAfter === undefined ? { status, code, error } : { status, code, error, retryAfter }
}

/**
 * Reads the answer to a batch of `count` messages: a JSON array of `count` results, each with
 * an integer `status` from 100 to 599. Anything else throws a `ProtocolError`: the answer
 * cannot say which messages were taken.
 */
export function parseBatchResults(body: unknown, count: number): BatchResult[] {
  if (!Array.isArray(body) || body.length !== count) {
    throw new ProtocolError(
      ErrorCodes.INVALID_MESSAGE,
      `the answer to a batch of ${count} must be a JSON array of ${count} results, got ${
        Array.isArray(body) ? `${body.length}` : describeValue(body)
      }`,
    )
  }
  const results = new Array<BatchResult>(count)
  for (let index = 0; index < count; index++) {
    const entry = body[index] as Partial<Record<keyof BatchResult, unknown>> | null
    const status = entry?.status
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
      throw new ProtocolError(
        ErrorCodes.INVALID_MESSAGE,
        `result ${index} of a batch answer has no valid status, got ${describeValue(status)}`,
      )
    }
    const result: { status: number; code?: ErrorCode; error?: string } = { status }
    if (typeof entry?.code === 'string') result.code = entry.code as ErrorCode
    if (typeof entry?.error === 'string') result.error = entry.error
    results[index] = result
  }
  return results
}
