/** The message every system sends and answers. */
export const REQUEST_NAME = 'bench.request'
/** The reply's name (the outcome). */
export const REPLY_NAME = 'bench.reply'

/** Bytes of the payload as JSON: the size the earlier measurements used. */
export const PAYLOAD_BYTES = 96

/**
 * A small JSON object of exactly {@link PAYLOAD_BYTES} bytes, the same for every system. An
 * object rather than a string, so that each system parses and serialises real JSON.
 */
export const PAYLOAD: { readonly user: string; readonly n: number; readonly text: string } =
  makePayload()

/** The payload as the bytes NATS carries. */
export const PAYLOAD_JSON: string = JSON.stringify(PAYLOAD)

function makePayload(): { user: string; n: number; text: string } {
  const base = { user: 'will.riker', n: 1701, text: '' }
  const fill = PAYLOAD_BYTES - JSON.stringify(base).length
  return { ...base, text: 'x'.repeat(fill) }
}
