import { defineContract, type MessagesOf } from 'exorelay'
import { z } from 'zod'

// The web service's contract: the messages it sends, as zod schemas. Its relay checks the
// replies against it before `send` resolves, and (outside production) what it sends. The users
// service has its own contract module; `exoservice check` compares their JSON Schemas.

const user = z.object({ id: z.string(), name: z.string() })

/**
 * The body of `POST /users` and the payload of `users.create`: one schema, so the API's limits
 * (a name of 200 characters at most, a password of 1000) are the message's. An empty name is the
 * users service's call (users.not-created, 422), not a malformed request.
 */
export const newUser = z.object({ name: z.string().max(200), password: z.string().max(1000) })

/**
 * The messages the web service sends.
 *
 * @example
 * ```ts
 * await app.register(exorelayPlugin, { serviceName: 'web', contract })
 * ```
 */
export const contract = defineContract({
  'users.create': {
    payload: newUser,
    replies: {
      'users.created': user,
      'users.not-created': z.object({ reason: z.string() }),
    },
  },
  'users.list': {
    replies: { 'users.listed': z.array(user) },
  },
})

/** The message map the contract gives. */
export type WebMessages = MessagesOf<typeof contract>

/** A user as the API returns it. */
export type User = z.output<typeof user>

// The web app's relay, `app.exorelay`, is typed by the contract (see the `exorelay` plugin).
declare module 'exorelay' {
  interface Register {
    messages: WebMessages
  }
}
