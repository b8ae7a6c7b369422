import { ExoRelay, type ExoRelayOptions } from 'exorelay'
import { hashPassword } from './hash-password.js'
import type { PasswordsMessages } from './messages.js'

/**
 * The passwords service: a relay that answers `passwords.encrypt` with `passwords.encrypted`,
 * the scrypt hash of the password. Call `listen()` to take it online.
 *
 * @example
 * ```ts
 * const relay = createPasswordsService({ serviceName: 'passwords', exocomPort: 3100, port: 0 })
 * await relay.listen()
 * ```
 */
export function createPasswordsService(options: ExoRelayOptions = {}): ExoRelay<PasswordsMessages> {
  const relay = new ExoRelay<PasswordsMessages>(options)
  relay.registerHandler('passwords.encrypt', async (password, { reply }) => {
    // The contract says string, but anything can arrive over the wire. The relay logs this
    // rejection (never the password itself) and answers the sender with an error reply.
    if (typeof password !== 'string' || password === '') {
      throw new TypeError(
        `passwords.encrypt needs a non-empty string as its payload, got ${password === '' ? 'an empty string' : `a ${typeof password}`}.`,
      )
    }
    await reply('passwords.encrypted', await hashPassword(password))
  })
  return relay
}
