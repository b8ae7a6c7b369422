import { defineContract, type MessagesOf } from 'exorelay'
import { z } from 'zod'

// The users service's contract: the messages it takes part in, as zod schemas. `exoservice run`
// validates every request against it before a handler runs (service.yml's `messages.contract`),
// and checks the replies users awaits. The services are deployed independently, so each keeps
// its own contract module; `exoservice check` compares their JSON Schemas.

const user = z.object({ id: z.string(), name: z.string() })

/**
 * The messages of the users service: the ones it handles and the one it sends.
 *
 * @example
 * ```ts
 * const relay = new ExoRelay({ serviceName: 'users', contract })
 * ```
 */
export const contract = defineContract({
  'users.create': {
    // The web API's limits (its body schema is this one). An empty name is no schema failure
    // but this service's business: it answers users.not-created.
    payload: z.object({ name: z.string().max(200), password: z.string().max(1000) }),
    replies: {
      'users.created': user,
      'users.not-created': z.object({ reason: z.string() }),
    },
  },
  'users.list': {
    replies: { 'users.listed': z.array(user) },
  },
  // Handled by the passwords service: the reply is the hash as `salt:hash` in hex.
  'passwords.encrypt': {
    payload: z.string(),
    replies: { 'passwords.encrypted': z.string() },
  },
})

/** The message map the contract gives: what `send`, `reply` and the handlers are typed by. */
export type UsersMessages = MessagesOf<typeof contract>

/** A user as other services see it: never with the password hash. */
export type User = z.output<typeof user>
