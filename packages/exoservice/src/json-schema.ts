import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { MessageSchemas } from 'exorelay'
import { thrownMessage } from './errors.js'
import type { ExportedSchema } from './landscape-contracts.js'

/** A schema of a contract: a Standard Schema v1 validator. */
type Schema = NonNullable<MessageSchemas['payload']>

/**
 * Standard JSON Schema's part of a validator (zod 4, arktype 2): `StandardSchemaV1`'s type does
 * not declare it, since a validator may lack it.
 */
interface JsonSchemaExport {
  readonly jsonSchema?: {
    readonly input?: (options: { target: string }) => Record<string, unknown>
  }
}

// What valibot's exporter is called, and what it is installed as.
const VALIBOT_EXPORTER = '@valibot/to-json-schema'

/**
 * A contract's schema as JSON Schema draft-07, without `$schema` (so that two exports compare
 * as their content). It describes what the schema accepts, its input: what travels on the wire,
 * which senders and receivers must agree on (a zod object's output would add
 * `additionalProperties: false`, since zod strips unknown keys, and differ from a valibot object
 * that does the same). Standard JSON Schema's `~standard.jsonSchema.input` where the validator
 * has it (zod 4, arktype 2); for valibot, `@valibot/to-json-schema` as the service installed it,
 * resolved from `fromFolder` (the contract module's folder: the service owns its libraries, so
 * its exporter matches its valibot). Otherwise, or when the export fails (a transform, a custom
 * check), a note that says why and names the fix. Never throws.
 */
export async function exportJsonSchema(
  schema: Schema,
  fromFolder: string,
): Promise<ExportedSchema> {
  const vendor = String(schema['~standard'].vendor)
  try {
    const standard = (schema['~standard'] as JsonSchemaExport).jsonSchema
    if (typeof standard?.input === 'function') {
      return { jsonSchema: withoutDialect(standard.input({ target: 'draft-07' })), vendor }
    }
    if (vendor === 'valibot') {
      const toJsonSchema = await valibotExporter(fromFolder)
      if (toJsonSchema === undefined) {
        return {
          note: `valibot exports JSON Schema through ${VALIBOT_EXPORTER}, which the service does not have: install it in the service (npm install ${VALIBOT_EXPORTER}).`,
          vendor,
        }
      }
      return {
        jsonSchema: withoutDialect(toJsonSchema(schema, { target: 'draft-07', typeMode: 'input' })),
        vendor,
      }
    }
  } catch (error) {
    return {
      note: `${vendor} could not export it as JSON Schema: ${thrownMessage(error)}. Describe the data without it, or accept that it is not compared.`,
      vendor,
    }
  }
  return {
    note: `${vendor} has no JSON Schema export (Standard JSON Schema): use a validator that has one (zod 4, arktype 2, or valibot with ${VALIBOT_EXPORTER}) for the messages other services share.`,
    vendor,
  }
}

type ValibotExporter = (
  schema: unknown,
  config: { target: 'draft-07'; typeMode: 'input' },
) => Record<string, unknown>

/** `toJsonSchema` of `@valibot/to-json-schema` as `folder` resolves it, or `undefined`. */
async function valibotExporter(folder: string): Promise<ValibotExporter | undefined> {
  let resolved: string
  try {
    resolved = createRequire(join(folder, 'noop.js')).resolve(VALIBOT_EXPORTER)
  } catch {
    return undefined
  }
  // Its CommonJS entry (what require resolves): it reads the schema's data and imports nothing of
  // valibot, so which of its builds converts makes no difference.
  const module = (await import(pathToFileURL(resolved).href)) as { toJsonSchema?: unknown }
  return typeof module.toJsonSchema === 'function'
    ? (module.toJsonSchema as ValibotExporter)
    : undefined
}

/** The schema without `$schema`: which draft it is says nothing about the data. */
function withoutDialect(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = schema
  return rest
}

/** Whether two JSON values are equal as data, whatever the order of their objects' keys. */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b)
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    isObject(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => compareCodePoints(a, b)))
      : inner,
  )
}

/** Code-point order: the same on every machine, unlike `localeCompare`. */
export function compareCodePoints(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

// The largest integer zod, valibot and arktype all agree a JSON number can hold exactly.
const SAFE_INTEGER = Number.MAX_SAFE_INTEGER

// Keywords that describe a schema without changing what it accepts (draft-07 annotations).
const ANNOTATIONS = new Set(['default', 'description', 'title', 'examples', '$comment'])

// Where a schema holds further schemas: one, a list, or a map of them. Anything else (`const`,
// `enum`, `required`…) is data, left as it is but for the rules below.
const SUBSCHEMA = new Set([
  'items',
  'additionalItems',
  'additionalProperties',
  'contains',
  'propertyNames',
  'not',
  'if',
  'then',
  'else',
  'allOf',
  'anyOf',
  'oneOf',
])
const SUBSCHEMA_MAPS = new Set(['properties', 'patternProperties', 'definitions', 'dependencies'])

/**
 * An exported JSON Schema in the one form the check compares: what zod 4, valibot 1 and arktype 2
 * write differently for the same data made to read the same. Each rule is one line below; a
 * difference no rule covers (a `pattern` only one side has, a bound, `additionalProperties`) is
 * reported. The exported schema itself (the AsyncAPI document's) stays as the validator wrote it.
 */
export function comparableJsonSchema(schema: unknown): unknown {
  if (typeof schema === 'boolean' || !isObject(schema)) return schema
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(schema)) {
    // Annotations say nothing about what is accepted (`default` included: it applies to the
    // receiver's own output, and the data on the wire may still leave the field out).
    if (ANNOTATIONS.has(key)) continue
    if (SUBSCHEMA.has(key)) {
      out[key] = Array.isArray(value)
        ? value.map(comparableJsonSchema)
        : comparableJsonSchema(value)
    } else if (SUBSCHEMA_MAPS.has(key) && isObject(value)) {
      out[key] = Object.fromEntries(
        Object.entries(value).map(([name, inner]) => [name, comparableJsonSchema(inner)]),
      )
    } else {
      out[key] = value
    }
  }
  // `required` and `enum` are sets: their order says nothing (valibot keeps the order written,
  // zod too, so `{ name, email }` and `{ email, name }` differ only there).
  if (Array.isArray(out.required)) out.required = sortedSet(out.required)
  if (Array.isArray(out.enum)) out.enum = sortedSet(out.enum)
  // An empty `required` requires nothing (valibot writes one for an object of optional fields).
  if (Array.isArray(out.required) && out.required.length === 0) delete out.required
  // `anyOf` of branches that each give only a `type` is a `type` list (valibot and arktype write
  // a nullable string as `anyOf: [{ type: string }, { type: null }]`, zod as `type: [string, null]`).
  const onlyTypes = Array.isArray(out.anyOf) && out.anyOf.every(isTypeOnly)
  if (onlyTypes && out.type === undefined) {
    out.type = (out.anyOf as { type: unknown }[]).flatMap(({ type }) => type)
    delete out.anyOf
  }
  // A `type` list is a set; a list of one is that type.
  if (Array.isArray(out.type)) {
    out.type = sortedSet(out.type)
    if ((out.type as unknown[]).length === 1) out.type = (out.type as unknown[])[0]
  }
  // zod bounds every integer by ±(2^53 − 1); valibot and arktype do not, and JSON numbers beyond
  // them lose precision anyway.
  if (out.type === 'integer' && out.minimum === -SAFE_INTEGER) delete out.minimum
  if (out.type === 'integer' && out.maximum === SAFE_INTEGER) delete out.maximum
  // A `type` beside a `const` or an `enum` whose values are all of that type adds nothing (zod
  // writes it, valibot and arktype do not).
  const values = 'const' in out ? [out.const] : Array.isArray(out.enum) ? out.enum : undefined
  if (values?.every((value) => isTypeOf(out.type, value))) delete out.type
  // A `pattern` beside a `format` is the validator's own spelling of that format (zod's and
  // arktype's email patterns differ, valibot writes none); the `format` itself is compared.
  if (typeof out.format === 'string') delete out.pattern
  return out
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function isTypeOnly(branch: unknown): boolean {
  return isObject(branch) && Object.keys(branch).length === 1 && 'type' in branch
}

/** The values once each, sorted by their JSON text. */
function sortedSet(values: readonly unknown[]): unknown[] {
  const byText = new Map(values.map((value) => [canonical(value), value]))
  return [...byText.keys()].sort().map((text) => byText.get(text))
}

/** Whether `type` is a JSON Schema type that holds the JSON value (1 is a number and an integer). */
function isTypeOf(type: unknown, value: unknown): boolean {
  if (value === null) return type === 'null'
  if (Array.isArray(value)) return type === 'array'
  if (type === 'integer') return Number.isInteger(value)
  return type === typeof value
}
