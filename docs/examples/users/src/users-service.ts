import { defineService, type ServiceDefinition } from 'exoservice'
import { contract, type UsersMessages } from './contract.js'
import { toUser, UserStore } from './user-store.js'

/** What a test may change about the users service; `src/server.ts` uses the defaults. */
export interface UsersServiceOptions {
  /** Where users are kept. Default: a new, empty `UserStore`. */
  store?: UserStore
  /** Milliseconds to wait for the passwords service. Default: the relay's `timeout` (10 s). */
  passwordsTimeout?: number
}

/**
 * The users service's handlers, typed and validated by its contract (`src/contract.ts`):
 * `users.create` (checks the name, has the password hashed by `passwords.encrypt`, stores the
 * user, replies `users.created` or `users.not-created`) and `users.list` (replies
 * `users.listed`). A `users.create` whose requester stops waiting (its deadline passed, or it
 * cancelled) stops, and logs `users.create stopped: …` instead of answering. `exoservice run`
 * runs them (`src/server.ts`) with the contract; a test can register them on any relay.
 *
 * @example
 * ```ts
 * relay.registerHandlers(usersService({ store: new UserStore() }))
 * ```
 */
export function usersService(options: UsersServiceOptions = {}): ServiceDefinition<UsersMessages> {
  const { store = new UserStore(), passwordsTimeout } = options
  const sendOptions = passwordsTimeout === undefined ? {} : { timeout: passwordsTimeout }
  // The contract goes with the handlers: `exoservice run` validates each request against it
  // before a handler runs, so a payload here is `{ name, password }`, strings within limits.
  return defineService(contract, {
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

/**
 * Why a `users.create` payload cannot become a user, or `undefined` when it can. The contract
 * has checked its shape; what is left is this service's business: a blank name is no user.
 */
function invalidReason(user: { name: string; password: string }): string | undefined {
  if (user.name.trim() === '') return 'a name is required'
  if (user.password === '') return 'a password is required'
  return undefined
}
