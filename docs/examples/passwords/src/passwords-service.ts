import { ErrorCodes, isExoRelayError } from 'exorelay'
import { defineService, type ServiceDefinition } from 'exoservice'
import { contract, type PasswordsMessages } from './contract.js'
import { hashPassword } from './hash-password.js'

/**
 * The passwords service's handler: answers `passwords.encrypt` with `passwords.encrypted`, the
 * scrypt hash of the password. It stops hashing when the requester stops waiting (its deadline
 * passed, or it cancelled) and logs `passwords.encrypt stopped: …` instead of replying.
 * `exoservice run` runs it (`src/server.ts`); a test can register it on any relay.
 *
 * @example
 * ```ts
 * relay.registerHandlers(passwordsService())
 * ```
 */
export function passwordsService(): ServiceDefinition<PasswordsMessages> {
  // The contract goes with the handler: `exoservice run` refuses a payload that is no string
  // before the handler runs.
  return defineService(contract, {
    'passwords.encrypt': async (password, { reply, signal, log }) => {
      // The contract lets an empty string through; nothing to hash is the sender's mistake. The
      // relay logs this rejection and answers the sender with an error reply.
      if (password === '') {
        throw new TypeError(
          'passwords.encrypt needs a non-empty string as its payload, got an empty string.',
        )
      }
      let hash: string
      try {
        hash = await hashPassword(password, { signal })
      } catch (error) {
        if (!signal.aborted) throw error
        // Nobody waits for the hash: a reply (or an error reply) would find no one.
        log.warn({ code: signal.reason?.code }, `passwords.encrypt stopped: ${why(signal.reason)}`)
        return
      }
      await reply('passwords.encrypted', hash)
    },
  })
}

/** Why a handler's signal aborted, in a few words. */
function why(reason: unknown): string {
  if (isExoRelayError(reason, ErrorCodes.TIMEOUT)) return 'deadline passed'
  if (isExoRelayError(reason, ErrorCodes.ABORTED)) return 'the caller cancelled'
  if (isExoRelayError(reason, ErrorCodes.CLOSED)) return 'the service is closing'
  return String(reason)
}
