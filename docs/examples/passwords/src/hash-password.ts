import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { setTimeout as delay } from 'node:timers/promises'

const SALT_BYTES = 16
const KEY_BYTES = 64

/**
 * The password whose hashing takes {@link SLOW_HASHING} ms more, as a hasher under load would:
 * a request for it outlives the API's timeout, and so shows the work stop at the deadline.
 */
export const SLOW_PASSWORD = 'slow'
/** How much longer the {@link SLOW_PASSWORD} takes: 10 s, longer than the API's 5 s timeout. */
export const SLOW_HASHING = 10_000

/**
 * Hashes a password with scrypt and a fresh random salt. Returns `salt:hash`, both in hex, so
 * that the salt travels with the hash it belongs to. Rejects as soon as `signal` aborts:
 * nobody waits for the hash any more.
 *
 * @example
 * ```ts
 * const stored = await hashPassword('secret') // 'c2f1…:9a0b…'
 * await verifyPassword('secret', stored)      // true
 * ```
 */
export async function hashPassword(
  password: string,
  options: { signal?: AbortSignal } = {},
): Promise<string> {
  const { signal } = options
  if (password === SLOW_PASSWORD) {
    await delay(SLOW_HASHING, undefined, signal === undefined ? {} : { signal })
  }
  const salt = randomBytes(SALT_BYTES)
  const key = await derive(password, salt, signal)
  return `${salt.toString('hex')}:${key.toString('hex')}`
}

/** True when `password` is the one `stored` (from {@link hashPassword}) was made from. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [saltHex, keyHex] = stored.split(':')
  if (saltHex === undefined || keyHex === undefined) return false
  const expected = Buffer.from(keyHex, 'hex')
  if (expected.length !== KEY_BYTES) return false
  const actual = await derive(password, Buffer.from(saltHex, 'hex'))
  // Constant time, so the comparison does not tell an attacker how many bytes matched.
  return timingSafeEqual(actual, expected)
}

// The async scrypt runs on libuv's thread pool: hashing never blocks the relay's event loop.
// It cannot be stopped once it runs, but an aborted caller stops waiting for it.
function derive(password: string, salt: Buffer, signal?: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const abort = () => reject(signal?.reason)
    signal?.addEventListener('abort', abort, { once: true })
    scrypt(password, salt, KEY_BYTES, (error, key) => {
      signal?.removeEventListener('abort', abort)
      if (error) reject(error)
      else resolve(key)
    })
  })
}
