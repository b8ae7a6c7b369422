/**
 * The messages this service takes part in. Each example service declares the part of the
 * landscape's contract it uses, as independently deployed services would.
 */
export type PasswordsMessages = {
  /** The payload is the clear-text password; the reply is its hash as `salt:hash` in hex. */
  'passwords.encrypt': {
    payload: string
    replies: { 'passwords.encrypted': string }
  }
}
