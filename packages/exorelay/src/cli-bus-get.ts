import type { Readable } from 'node:stream'
import { type ErrorCode, ErrorCodes, TransportError } from '@exorelay/core'
import { ERROR_CODE_HEADER, requestHeaders } from '@exorelay/http-protocol'
import { answerText, refusal, unreachableError } from '@exorelay/undici-sender/internal'
import { request } from 'undici'
import { type BusAddress, busOrigin } from './cli-args.js'

// `exorelay routes` and `exorelay tail` read the bus over plain GETs: a relay has no such
// request, but its sentences for a bus that is not there or refuses are the ones used here.

/** Bytes of an error answer read at most: a misdirected port may answer a huge page. */
const ERROR_BODY_LIMIT = 4096

export interface BusGetOptions {
  /** The `accept` header. */
  accept: string
  /** Milliseconds the bus may take to answer with its headers. */
  timeout: number
  /** Milliseconds of silence in the body before the read fails; `0` waits for ever. */
  bodyTimeout: number
}

/**
 * `GET <path>` on the bus with its token; resolves with the body of a 2xx answer. Rejects with
 * the relay's coded errors: `BUS_UNREACHABLE` (nothing answers), `UNAUTHORIZED` (401),
 * `FORBIDDEN` or `BUS_REFUSED` (any other non-2xx, the bus's text quoted).
 */
export async function busGet(
  bus: BusAddress,
  path: string,
  { accept, timeout, bodyTimeout }: BusGetOptions,
): Promise<Readable> {
  const origin = busOrigin(bus)
  let answer: Awaited<ReturnType<typeof request>>
  try {
    answer = await request(`${origin}${path}`, {
      method: 'GET',
      headers: { ...requestHeaders(bus.token, false), accept },
      headersTimeout: timeout,
      bodyTimeout,
    })
  } catch (cause) {
    throw unreachableError(origin, cause)
  }
  const { statusCode, headers, body } = answer
  if (statusCode >= 200 && statusCode < 300) return body
  const text = await errorBody(body)
  if (statusCode === 401) {
    const problem =
      bus.token === undefined ? 'wants a token and none was given' : 'refused the token given'
    throw new TransportError(
      ErrorCodes.UNAUTHORIZED,
      `ExoCom at ${origin} ${problem} (401). Give the bus's token with EXOCOM_TOKEN (or --token); when the bus has per-service credentials, the operator's token.`,
      { status: 401 },
    )
  }
  const code = headers[ERROR_CODE_HEADER]
  const errorCode = typeof code === 'string' ? code : undefined
  if (statusCode === 404 && path === '/events') {
    throw new TransportError(
      ErrorCodes.BUS_REFUSED,
      `ExoCom at ${origin} serves no event stream (GET /events answered 404): it was started without one (exocom --no-events, or the events option false). Start it with its event stream, or point at another bus.`,
      { status: 404 },
    )
  }
  // The bus's own coded answers are whole sentences with their fix: passed on as they are.
  if (errorCode !== undefined && isBusCode(errorCode)) {
    throw new TransportError(errorCode, `ExoCom at ${origin}: ${text.trim()}`, {
      status: statusCode,
    })
  }
  throw refusal(`GET ${path}`, statusCode, errorCode, answerText(text, errorCode))
}

/** True for a code of the bus itself (`EXORELAY_ERR_BUS_…`), which this version knows. */
function isBusCode(code: string): code is ErrorCode {
  return (
    code.startsWith('EXORELAY_ERR_BUS_') && Object.values(ErrorCodes).includes(code as ErrorCode)
  )
}

/** The start of an error answer, read up to a limit; `answerText` cuts it for a sentence. */
async function errorBody(body: Readable): Promise<string> {
  let text = ''
  try {
    for await (const chunk of body) {
      text += String(chunk)
      if (text.length >= ERROR_BODY_LIMIT) break
    }
  } catch {
    // A broken error answer says no more than its status.
  } finally {
    body.destroy()
  }
  return text
}
