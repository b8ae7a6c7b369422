import type { StandardSchemaV1 } from '@standard-schema/spec'
import { describeInvalidName, describeValue } from './envelope.js'
import { ErrorCodes, InvalidArgumentError } from './errors.js'

/**
 * What a contract says about one message: the schema of its payload, and one schema per reply
 * outcome. A message without `replies` is never answered, as in a typed message map. Any
 * validator that implements Standard Schema v1 fits: zod 4, valibot 1, arktype 2.
 */
export interface MessageSchemas {
  /** The payload's schema; without it the message carries none. */
  payload?: StandardSchemaV1
  /** The schema of each outcome a reply may have, by outcome name. */
  replies?: Record<string, StandardSchemaV1>
}

/**
 * The output type of a Standard Schema: what its validator returns, defaults applied (what a
 * handler gets, and `await send()` resolves with). Read from
 * `~standard.types` directly: `StandardSchemaV1.InferOutput` first checks `S extends
 * StandardSchemaV1`, which made TypeScript give up on arktype's types ("excessively deep").
 */
export type SchemaOutput<S> = S extends { readonly '~standard': { readonly types?: infer T } }
  ? NonNullable<T> extends { readonly output: infer O }
    ? O
    : unknown
  : never

/**
 * The message map a contract gives, as `new ExoRelay<Messages>()` and `Register` take it: each
 * payload and reply typed by its schema's output (what the validator returns). `C` is a
 * contract (`MessagesOf<typeof contract>`) or the object of schemas given to `defineContract`.
 *
 * @example
 * ```ts
 * import { z } from 'zod'
 * const contract = defineContract({ 'users.create': { payload: z.object({ name: z.string() }) } })
 * type Messages = MessagesOf<typeof contract> // { 'users.create': { payload: { name: string } } }
 * ```
 *
 * A contract declares `~messages`, which tells the two apart: no message has that name.
 */
export type MessagesOf<C> = '~messages' extends keyof C
  ? C extends Contract<infer M>
    ? M
    : never
  : {
      -readonly [Name in keyof C]: {
        -readonly [Key in keyof C[Name] as Key extends 'payload' | 'replies'
          ? Key
          : never]-?: Key extends 'payload'
          ? SchemaOutput<C[Name][Key]>
          : { -readonly [Outcome in keyof C[Name][Key]]: SchemaOutput<C[Name][Key][Outcome]> }
      }
    }

/**
 * A checked contract, made by {@link defineContract}: the schemas of each message, and their
 * message map as a property of the type alone, so that `new ExoRelay({ contract })` is typed
 * by it without a type argument. `Contract` alone (`M` = `any`) is any contract: a map with
 * a message that is never answered is no `AnyMessages`, whose messages all have replies.
 */
export interface Contract<M = any> {
  /** The schemas of each message, frozen. */
  readonly messages: Readonly<Record<string, Readonly<MessageSchemas>>>
  /** The message map the schemas give. Types only: never set. */
  readonly '~messages'?: M
}

// A brand under a Symbol.for key, as the errors have: a contract made by another installed
// copy of core (a service's contract module beside exoservice's core) is a contract too.
const kContract = Symbol.for('exorelay.contract')

/** True when `value` was made by {@link defineContract}, by any installed copy of core. */
export function isContract(value: unknown): value is Contract {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[kContract] === true
  )
}

const SCHEMA_KEYS: ReadonlySet<string> = new Set(['payload', 'replies'])

/**
 * Defines a message contract from Standard Schema v1 validators: the types of `send`, `reply`
 * and the handlers follow from it, and a relay given it (`contract` option) validates what
 * arrives, the replies it awaits and, with `validateOutgoing`, what it sends. Checks every
 * schema at once and throws one `InvalidArgumentError` coded `INVALID_CONTRACT` naming each
 * problem. Returns a frozen contract.
 *
 * @example
 * ```ts
 * import { z } from 'zod'
 * const contract = defineContract({
 *   'users.create': {
 *     payload: z.object({ name: z.string() }),
 *     replies: { 'users.created': z.object({ id: z.number(), name: z.string() }) },
 *   },
 *   'users.touched': { payload: z.object({ id: z.number() }) },
 * })
 * const relay = new ExoRelay({ serviceName: 'web', contract })
 * ```
 */
export function defineContract<const C extends Record<string, MessageSchemas>>(
  messages: C,
): Contract<MessagesOf<C>> {
  if (!isPlainObject(messages)) {
    throw invalidContract([
      `defineContract needs an object of messages, got ${describeValue(messages)}`,
    ])
  }
  const problems: string[] = []
  const checked: Record<string, Readonly<MessageSchemas>> = {}
  for (const [name, spec] of Object.entries(messages)) {
    const nameProblem = describeInvalidName(name)
    if (nameProblem !== undefined) problems.push(`the message name '${name}' ${nameProblem}`)
    if (!isPlainObject(spec)) {
      problems.push(
        `'${name}' must be an object { payload?, replies? }, got ${describeValue(spec)}`,
      )
      continue
    }
    for (const key of Object.keys(spec)) {
      if (!SCHEMA_KEYS.has(key)) {
        problems.push(`'${name}' has an unknown key '${key}' (only payload and replies)`)
      }
    }
    const schemas: MessageSchemas = {}
    if (spec.payload !== undefined) {
      if (isStandardSchema(spec.payload)) schemas.payload = spec.payload
      else problems.push(`the payload of '${name}' ${notASchema(spec.payload)}`)
    }
    if (spec.replies !== undefined) {
      if (!isPlainObject(spec.replies)) {
        problems.push(
          `the replies of '${name}' must be an object of schemas by outcome, got ${describeValue(spec.replies)}`,
        )
      } else {
        const replies: Record<string, StandardSchemaV1> = {}
        for (const [outcome, schema] of Object.entries(spec.replies)) {
          const outcomeProblem = describeInvalidName(outcome)
          if (outcomeProblem !== undefined) {
            problems.push(`the outcome name '${outcome}' of '${name}' ${outcomeProblem}`)
          }
          if (isStandardSchema(schema)) replies[outcome] = schema
          else problems.push(`the outcome '${outcome}' of '${name}' ${notASchema(schema)}`)
        }
        schemas.replies = Object.freeze(replies)
      }
    }
    checked[name] = Object.freeze(schemas)
  }
  if (problems.length > 0) throw invalidContract(problems)
  const contract = { messages: Object.freeze(checked) }
  Object.defineProperty(contract, kContract, { value: true })
  return Object.freeze(contract)
}

/** Holds when `value` says it implements Standard Schema v1. */
function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false
  const standard = (value as Partial<StandardSchemaV1>)['~standard']
  return (
    typeof standard === 'object' &&
    standard !== null &&
    standard.version === 1 &&
    typeof standard.validate === 'function'
  )
}

function notASchema(value: unknown): string {
  return `is not a Standard Schema v1 schema, got ${describeValue(value)}`
}

function isPlainObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

// Enough to fix several at once, few enough for one readable line.
const PROBLEMS_SHOWN = 5

function invalidContract(problems: string[]): InvalidArgumentError {
  const shown = problems.slice(0, PROBLEMS_SHOWN).join('; ')
  const more = problems.length - PROBLEMS_SHOWN
  return new InvalidArgumentError(
    ErrorCodes.INVALID_CONTRACT,
    `The contract is invalid: ${shown}${more > 0 ? ` (and ${more} more)` : ''}. Use a validator that implements Standard Schema v1: zod 4, valibot 1, arktype 2…, and give each message { payload?, replies? }.`,
  )
}
