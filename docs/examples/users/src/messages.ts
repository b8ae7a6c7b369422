/** A user as other services see it: never with the password hash. */
export interface User {
  id: string
  name: string
}

/**
 * The messages this service takes part in: the ones it handles and the one it sends. Each
 * example service declares the part of the landscape's contract it uses, as independently
 * deployed services would.
 */
export type UsersMessages = {
  'users.create': {
    payload: { name: string; password: string }
    replies: { 'users.created': User; 'users.not-created': { reason: string } }
  }
  'users.list': {
    replies: { 'users.listed': User[] }
  }
  /** Handled by the passwords service: the reply is the hash as `salt:hash` in hex. */
  'passwords.encrypt': {
    payload: string
    replies: { 'passwords.encrypted': string }
  }
}
