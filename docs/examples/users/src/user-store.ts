import { randomUUID } from 'node:crypto'
import type { User } from './contract.js'

/** What the store keeps about a user. */
export interface StoredUser extends User {
  passwordHash: string
}

/** The users, in memory and in the order they were created: an example needs no database. */
export class UserStore {
  readonly #users = new Map<string, StoredUser>()

  /** Stores a new user under a fresh id and returns it. */
  add(name: string, passwordHash: string): StoredUser {
    const user: StoredUser = { id: randomUUID(), name, passwordHash }
    this.#users.set(user.id, user)
    return user
  }

  get(id: string): StoredUser | undefined {
    return this.#users.get(id)
  }

  /** Every user without the hash, ready to leave the service. */
  list(): User[] {
    return [...this.#users.values()].map(toUser)
  }
}

/** Copies only the public fields, so that a hash can never leak by a spread. */
export function toUser(user: StoredUser): User {
  return { id: user.id, name: user.name }
}
