import { defineService, type ServiceDefinition } from 'exoservice'
import type { UsersMessages } from './messages.js'
import { toUser, UserStore } from './user-store.js'

/** What a test may change about the users service; `src/server.ts` uses the defaults. */
export interface UsersServiceOptions {
  /** Where users are kept. Default: a new, empty `UserStore`. */
  store?: UserStore
  /** Milliseconds to wait for the passwords service. Default: the relay's `timeout` (10 s). */
  passwordsTimeout?: number
}

/**
 * The users service's handlers: `users.create` (validates, has the password hashed by
 * `passwords.encrypt`, stores the user, replies `users.created` or `users.not-created`) and
 * `users.list` (replies `users.listed`). A `users.create` whose requester stops waiting (its
 * deadline passed, or it cancelled) stops, and logs `users.create stopped: …` instead of
 * answering. `exoservice run` runs them (`src/server.ts`); a test can register them on any
 * relay.
 *
 * @example
 * ```ts
 * relay.registerHandlers(usersService({ store: new UserStore() }))
 * ```
 */
export function usersService(options: UsersServiceOptions = {}): ServiceDefinition<UsersMessages> {
  const { store = new UserStore(), passwordsTimeout } = options
  const sendOptions = passwordsTimeout === undefined ? {} : { timeout: passwordsTimeout }
  return defineService<UsersMessages>({
    'users.create': async (user, { reply, send, signal, log }) => {
      const reason = invalidReason(user)
      if (reason !== undefined) {
        await reply('users.not-created', { reason })
        return
      }
      let passwordHash: string
      try {
        // The send inherits the deadline of users.create: it waits no longer than web does.
        passwordHash = await send('passwords.encrypt', user.password, sendOptions)
      } catch (error) {
        // If the passwords service fails or does not answer in time, the relay logs it and
        // answers the requester with an error reply (a RemoteHandlerError there, carrying the
        // code, e.g. EXORELAY_ERR_REPLY_TIMEOUT). A made-up outcome would hide the fault.
        if (!signal.aborted) throw error
        // Unless the requester itself waits no longer (its deadline passed, or it cancelled):
        // then any answer would find nobody.
        log.warn({ code: signal.reason?.code }, `users.create stopped: ${signal.reason?.message}`)
        return
      }
      const created = store.add(user.name.trim(), passwordHash)
      await reply('users.created', toUser(created))
    },

    'users.list': async (_payload, { reply }) => {
      await reply('users.listed', store.list())
    },
  })
}

/** Why a `users.create` payload cannot become a user, or `undefined` when it can. */
function invalidReason(user: unknown): string | undefined {
  // Checked at runtime: the message map types the payload, but the wire carries any JSON.
  if (user === null || typeof user !== 'object') return 'the payload must be an object'
  const { name, password } = user as { name?: unknown; password?: unknown }
  if (typeof name !== 'string' || name.trim() === '') return 'a name is required'
  if (typeof password !== 'string' || password === '') return 'a password is required'
  return undefined
}
