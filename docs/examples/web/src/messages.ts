/** A user as the API returns it. */
export interface User {
  id: string
  name: string
}

/**
 * The messages the web service sends. Each example service declares the part of the
 * landscape's contract it uses, as independently deployed services would.
 */
export type WebMessages = {
  'users.create': {
    payload: { name: string; password: string }
    replies: { 'users.created': User; 'users.not-created': { reason: string } }
  }
  'users.list': {
    replies: { 'users.listed': User[] }
  }
}

// The web app's relay, `app.exorelay`, is typed by this map (see the `exorelay` plugin).
declare module 'exorelay' {
  interface Register {
    messages: WebMessages
  }
}
