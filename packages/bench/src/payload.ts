import { ErrorCodes, InvalidArgumentError } from '@exorelay/core'
import { ENV_PAYLOAD_BYTES } from './ipc.js'

/** The message every system sends and answers. */
export const REQUEST_NAME = 'bench.request'
/** The reply's name (the outcome). */
export const REPLY_NAME = 'bench.reply'

/** Bytes of the payload as JSON when nothing else is asked: the size the earlier measurements used. */
export const DEFAULT_PAYLOAD_BYTES = 96

const SHELL = { user: 'will.riker', n: 1701, text: '' }
/** The smallest payload there is: the object with an empty `text`. */
export const MIN_PAYLOAD_BYTES = JSON.stringify(SHELL).length

/**
 * Bytes of the payload as JSON: {@link DEFAULT_PAYLOAD_BYTES}, or what the parent passed in
 * `BENCH_PAYLOAD_BYTES` (the payload curve of `npm run curves`).
 */
export const PAYLOAD_BYTES: number = payloadBytes(process.env[ENV_PAYLOAD_BYTES])

/**
 * A JSON object of exactly {@link PAYLOAD_BYTES} bytes, the same for every system. An object
 * rather than a string, so that each system parses and serialises real JSON.
 */
export const PAYLOAD: { readonly user: string; readonly n: number; readonly text: string } =
  makePayload(PAYLOAD_BYTES)

/** The payload as the bytes NATS carries. */
export const PAYLOAD_JSON: string = JSON.stringify(PAYLOAD)

/** The payload size `text` asks for (unset: the default); throws for anything but a whole size. */
export function payloadBytes(text: string | undefined): number {
  if (text === undefined || text === '') return DEFAULT_PAYLOAD_BYTES
  const bytes = Number(text)
  if (!Number.isInteger(bytes) || bytes < MIN_PAYLOAD_BYTES) {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      `${ENV_PAYLOAD_BYTES} must be a whole number of bytes, at least ${MIN_PAYLOAD_BYTES}, got '${text}'.`,
    )
  }
  return bytes
}

/** The payload object whose JSON is exactly `bytes` long (ASCII filler: one byte a character). */
export function makePayload(bytes: number): { user: string; n: number; text: string } {
  return { ...SHELL, text: 'x'.repeat(bytes - MIN_PAYLOAD_BYTES) }
}
