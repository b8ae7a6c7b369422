import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'

const SALT_BYTES = 16
const KEY_BYTES = 64

/**
 * Hashes a password with scrypt and a fresh random salt. Returns `salt:hash`, both in hex, so
 * that the salt travels with the hash it belongs to.
 *
 * @example
 * ```ts
 * const stored = await hashPassword('secret') // 'c2f1…:9a0b…'
 * await verifyPassword('secret', stored)      // true
 * ```
 */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES)
  const key = await derive(password, salt)
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
function derive(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_BYTES, (error, key) => (error ? reject(error) : resolve(key)))
  })
}
