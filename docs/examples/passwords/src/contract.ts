import { defineContract, type MessagesOf } from 'exorelay'
import { z } from 'zod'

// The passwords service's contract. `exoservice run` validates every request against it before
// the handler runs (service.yml's `messages.contract`). The users service, which sends
// passwords.encrypt, has its own contract module; `exoservice check` compares their JSON Schemas.

/**
 * The messages of the passwords service: `passwords.encrypt` takes the clear-text password and
 * is answered with its hash as `salt:hash` in hex.
 *
 * @example
 * ```ts
 * const relay = new ExoRelay({ serviceName: 'passwords', contract })
 * ```
 */
export const contract = defineContract({
  'passwords.encrypt': {
    payload: z.string(),
    replies: { 'passwords.encrypted': z.string() },
  },
})

/** The message map the contract gives: what the handler is typed by. */
export type PasswordsMessages = MessagesOf<typeof contract>
