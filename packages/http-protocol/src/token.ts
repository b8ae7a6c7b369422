import { createHash, timingSafeEqual } from 'node:crypto'
import { ErrorCodes, InvalidArgumentError } from '@exorelay/core'

// Visible ASCII without spaces: the value travels in a header, where anything else is either
// refused or trimmed by some hop, and two sides would then disagree about the secret.
const TOKEN_PATTERN = /^[\x21-\x7e]+$/

/**
 * Checks the shared-secret option and returns it. The error never quotes the value: a token
 * with a typo is still nearly the secret.
 */
export function checkToken(token: unknown, where: string): string | undefined {
  if (token === undefined) return undefined
  if (typeof token === 'string' && TOKEN_PATTERN.test(token)) return token
  throw new InvalidArgumentError(
    ErrorCodes.INVALID_OPTION,
    `${where} must be a non-empty string of visible ASCII characters without spaces, got ${describeToken(token)}.`,
  )
}

function describeToken(token: unknown): string {
  if (typeof token !== 'string') return token === null ? 'null' : `a value of type ${typeof token}`
  return token === '' ? 'an empty string' : 'a string with spaces or non-ASCII characters'
}

/** The `authorization` header that carries the shared secret on every request to a peer. */
export function authorizationHeader(token: string): string {
  return `Bearer ${token}`
}

/**
 * Returns a check of an `authorization` header against `Bearer <token>`. It compares SHA-256
 * digests in constant time, so neither the secret's bytes nor its length leak through timing;
 * a missing or malformed header is hashed all the same.
 */
export function bearerMatcher(token: string): (authorization: unknown) => boolean {
  const expected = digest(token)
  return (authorization) => {
    const presented = typeof authorization === 'string' ? bearerValue(authorization) : undefined
    const equal = timingSafeEqual(digest(presented ?? ''), expected)
    return equal && presented !== undefined
  }
}

/**
 * Returns a lookup of an `authorization` header among several tokens (identity mode: one per
 * service): the value of the matching token, or `undefined`. It looks up the SHA-256 digest
 * of the presented token, so its time depends on that digest alone, which tells nothing about
 * any token but the one presented; and it stays the same however many tokens there are (a
 * comparison with each would cost about 80 µs a request at 1,000).
 */
export function bearerIdentifier<T>(
  tokens: Iterable<readonly [token: string, value: T]>,
): (authorization: unknown) => T | undefined {
  const byDigest = new Map<string, T>()
  for (const [token, value] of tokens) byDigest.set(digest(token).toString('base64'), value)
  return (authorization) => {
    const presented = typeof authorization === 'string' ? bearerValue(authorization) : undefined
    if (presented === undefined) return undefined
    return byDigest.get(digest(presented).toString('base64'))
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest()
}

/** The credentials of a `Bearer` header (the scheme is case-insensitive), else `undefined`. */
function bearerValue(header: string): string | undefined {
  const space = header.indexOf(' ')
  if (space === -1 || header.slice(0, space).toLowerCase() !== 'bearer') return undefined
  return header.slice(space + 1).trim()
}
