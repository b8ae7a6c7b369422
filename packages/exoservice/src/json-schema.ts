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
    readonly output?: (options: { target: string }) => Record<string, unknown>
  }
}

// What valibot's exporter is called, and what it is installed as.
const VALIBOT_EXPORTER = '@valibot/to-json-schema'

/**
 * A contract's schema as JSON Schema draft-07, without `$schema` (so that two exports compare
 * as their content): Standard JSON Schema's `~standard.jsonSchema.output` where the validator
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
    if (typeof standard?.output === 'function') {
      return { jsonSchema: withoutDialect(standard.output({ target: 'draft-07' })), vendor }
    }
    if (vendor === 'valibot') {
      const toJsonSchema = await valibotExporter(fromFolder)
      if (toJsonSchema === undefined) {
        return {
          note: `valibot exports JSON Schema through ${VALIBOT_EXPORTER}, which the service does not have: install it in the service (npm install ${VALIBOT_EXPORTER}).`,
          vendor,
        }
      }
      return { jsonSchema: withoutDialect(toJsonSchema(schema, { target: 'draft-07' })), vendor }
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

type ValibotExporter = (schema: unknown, config: { target: 'draft-07' }) => Record<string, unknown>

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

/**
 * Whether two exported JSON Schemas say the same: equal as data, whatever the order of their
 * keys (valibot and arktype write the same object schema in different orders).
 */
export function sameJsonSchema(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b)
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(
          Object.entries(inner as Record<string, unknown>).sort(([a], [b]) =>
            a < b ? -1 : a > b ? 1 : 0,
          ),
        )
      : inner,
  )
}
