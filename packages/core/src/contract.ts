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
 * The input type of a Standard Schema: what its validator accepts (what `send` and `reply`
 * take). It differs from {@link SchemaOutput} where the schema changes the data: with
 * `z.string().default('member')` the input may be `undefined`, with
 * `z.string().transform(Number)` it is a string and the output a number.
 */
export type SchemaInput<S> = S extends { readonly '~standard': { readonly types?: infer T } }
  ? NonNullable<T> extends { readonly input: infer I }
    ? I
    : unknown
  : never

/**
 * The message map a contract gives, as `new ExoRelay<Messages>()` and `Register` take it:
 * what is received (a handler's payload, what `await send()` resolves with) is typed by each
 * schema's output, what the validator returns; what is sent (`send`'s payload, `reply`'s) by
 * its input, what the validator accepts, given as the spec's `input` for the messages whose
 * schemas change the data (`.default()`, `.transform()`). `C` is a contract
 * (`MessagesOf<typeof contract>`) or the object of schemas given to `defineContract`.
 *
 * @example
 * ```ts
 * import { z } from 'zod'
 * const contract = defineContract({
 *   'users.create': { payload: z.object({ name: z.string() }) },
 *   'users.invite': { payload: z.object({ role: z.string().default('member') }) },
 * })
 * type Messages = MessagesOf<typeof contract>
 * // {
 * //   'users.create': { payload: { name: string } }
 * //   'users.invite': { payload: { role: string }; input: { payload: { role?: string | undefined } } }
 * // }
 * ```
 *
 * A contract declares `~messages`, which tells the two apart: no message has that name. A
 * record with an index signature (a contract built in a loop) has every key, `~messages` too:
 * it is read as schemas, each name typed by the record's value type.
 */
export type MessagesOf<C> = [string extends keyof C ? never : '~messages' & keyof C] extends [never]
  ? { -readonly [Name in keyof C]: WithInput<SpecOf<C[Name], 'output'>, SpecOf<C[Name], 'input'>> }
  : C extends Contract<infer M>
    ? M
    : never

/** The payload and replies of one message's schemas, typed by their input or output. */
type SpecOf<S, Side extends 'input' | 'output'> = {
  -readonly [Key in keyof S as Key extends 'payload' | 'replies'
    ? Key
    : never]-?: Key extends 'payload'
    ? SchemaType<S[Key], Side>
    : // NonNullable: in `MessageSchemas` itself (an index signature's value type) `replies` is optional.
      {
        -readonly [Outcome in keyof NonNullable<S[Key]>]: SchemaType<
          NonNullable<S[Key]>[Outcome],
          Side
        >
      }
}

type SchemaType<S, Side extends 'input' | 'output'> = Side extends 'input'
  ? SchemaInput<S>
  : SchemaOutput<S>

// The spec with `input` only where it differs (assignable both ways counts as the same), so
// that a contract of plain data gives the map one would write by hand. One object type, not
// an intersection, so that it reads (and compares) as a hand-written one.
type WithInput<Output, Input> = [Input, Output] extends [Output, Input]
  ? Output
  : Flat<Output & { input: Input }>

type Flat<T> = { [Key in keyof T]: T[Key] }

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
