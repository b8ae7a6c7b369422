import type { Envelope } from './envelope.js'

/**
 * What one message name carries: its payload type, and the outcomes a reply may have with
 * their payload types. A spec without `replies` describes a message that is never answered:
 * sending it waits for nothing and holds nothing.
 *
 * @example
 * ```ts
 * type Messages = {
 *   'users.create': {
 *     payload: { name: string }
 *     replies: { 'users.created': { id: number; name: string }; 'users.not-created': { reason: string } }
 *   }
 *   'hello': { payload: { name: string } }
 * }
 * const relay = new ExoRelay<Messages>({ serviceName: 'web' })
 * ```
 */
export interface MessageSpec {
  payload?: unknown
  replies?: Record<string, unknown>
  /**
   * What the sender writes, where it differs from what the receiver gets: the payload `send`
   * takes and each outcome's payload `reply` takes. A part it leaves out is the same on both
   * sides. A contract whose schemas change the data (`.default()`, `.transform()`) gives it:
   * `send` takes what the schema accepts, the handler gets what its validator returns.
   */
  input?: { payload?: unknown; replies?: Record<string, unknown> }
}

/** The map from message names to their specs. Interfaces and type aliases both fit. */
export type MessageMap<M> = { [Name in keyof M]: MessageSpec }

/** The map an untyped relay uses: any name, any payload, any outcome. */
export type AnyMessages = Record<string, { payload?: any; replies: Record<string, any> }>

/** The message names of a map. */
export type MessageName<M> = keyof M & string

/** The payload type of a message, as its handler gets it; `undefined` when the spec declares none. */
export type PayloadOf<M, Name extends keyof M> = M[Name] extends { payload: infer P }
  ? P
  : M[Name] extends { payload?: infer P }
    ? P | undefined
    : undefined

/** The payload `send` takes: the spec's `input.payload` when it gives one, else its payload. */
export type PayloadInputOf<M, Name extends keyof M> = M[Name] extends {
  input: { payload: infer P }
}
  ? P
  : PayloadOf<M, Name>

// The helpers below test `M[Name] extends { replies: infer R }` rather than the usual
// `[X] extends [never]`: inside generic signatures (`send<Name>(…)`) TypeScript resolved the
// latter to the never-branch for every name, which made every reply `undefined`.

/** The outcome map of a message; `never` when it is never answered. */
export type RepliesOf<M, Name extends keyof M> = M[Name] extends { replies: infer R } ? R : never

/** The outcome names of a message. */
export type OutcomeOf<M, Name extends keyof M> = M[Name] extends { replies: infer R }
  ? keyof R & string
  : never

/** The payload `reply(outcome, …)` takes: from the spec's `input.replies` when it gives them. */
export type ReplyInputOf<
  M,
  Name extends keyof M,
  Outcome extends OutcomeOf<M, Name>,
> = M[Name] extends { input: { replies: infer R } }
  ? R[Outcome & keyof R]
  : RepliesOf<M, Name>[Outcome]

/** What `await relay.send(name, …)` resolves with: the payload of whichever outcome came first. */
export type ReplyPayloadOf<M, Name extends keyof M> = M[Name] extends { replies: infer R }
  ? R[keyof R & string]
  : undefined

/**
 * A received message, with its metadata. Its `payload` is required when `Payload` admits
 * neither `undefined` nor `null`: a typed reply whose outcome declares `{ id: number }` has
 * `reply.payload.id`, with no `?.` (a user's `tsc --strict` rejects `reply.payload.id` on an
 * optional property). A payload of `undefined` or `null` is not sent, so it stays optional
 * when the type admits either.
 */
export type ReceivedMessage<Payload = unknown, Name extends string = string> = Omit<
  Envelope<Payload>,
  'name' | 'payload'
> & { name: Name } & (undefined extends Payload
    ? { payload?: Payload }
    : null extends Payload
      ? { payload?: Payload }
      : { payload: Payload })

/**
 * The whole reply to a message as a union discriminated by `name` (the outcome), so that
 * narrowing on `name` narrows `payload`.
 */
export type ReplyEnvelopeOf<M, Name extends keyof M> = M[Name] extends { replies: infer R }
  ? { [Outcome in keyof R & string]: ReceivedMessage<R[Outcome], Outcome> }[keyof R & string]
  : undefined

/** True when the spec declares replies. */
export type ExpectsReply<M, Name extends keyof M> = M[Name] extends { replies: unknown }
  ? true
  : false

/** The payload argument: optional only when the message may be sent without one. */
export type PayloadArg<P> = undefined extends P ? [payload?: P] : [payload: P]
