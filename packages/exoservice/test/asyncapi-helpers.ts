import assert from 'node:assert/strict'
import { Parser } from '@asyncapi/parser'
import { toJsonSchema } from '@valibot/to-json-schema'
import { type Type, type } from 'arktype'
import * as v from 'valibot'
import { z } from 'zod'
import type {
  ContractMessage,
  ExportedSchema,
  LandscapeContracts,
} from '../src/landscape-contracts.js'

// A landscape as `loadLandscapeContracts` gives it, built by hand from real zod and valibot
// schemas, exported as the loader exports them.

/** A zod schema, exported by its own Standard JSON Schema. */
export function fromZod(schema: z.ZodType): ExportedSchema {
  return {
    jsonSchema: schema['~standard'].jsonSchema.input({ target: 'draft-07' }),
    vendor: 'zod',
  }
}

/** An arktype type, exported by its own Standard JSON Schema. */
export function fromArktype(schema: Type): ExportedSchema {
  return {
    jsonSchema: schema['~standard'].jsonSchema.input({ target: 'draft-07' }),
    vendor: 'arktype',
  }
}

/** A valibot schema, exported by `@valibot/to-json-schema`. */
export function fromValibot(schema: v.GenericSchema): ExportedSchema {
  return { jsonSchema: toJsonSchema(schema) as Record<string, unknown>, vendor: 'valibot' }
}

export function message(
  payload: ExportedSchema | undefined,
  replies: Record<string, ExportedSchema> = {},
): ContractMessage {
  return { payload, replies: new Map(Object.entries(replies)) }
}

interface TreeNode {
  name: string
  children: TreeNode[]
}
// Recursive: zod exports it with `#/definitions/…` pointers, which the document must rebase.
const TreeNode: z.ZodType<TreeNode> = z.lazy(() =>
  z.object({ name: z.string(), children: z.array(TreeNode) }),
)

/**
 * web asks users to create users (zod contract, replies users.created / users.exists) and
 * to list them, and sends audit.log (arktype), which nobody receives; users (valibot contract) answers
 * and asks passwords (no contract) to hash, whose schema is a validator without JSON Schema;
 * users.list carries no payload.
 */
export function sampleLandscape(): LandscapeContracts {
  const user = { id: z.string(), name: z.string() }
  return {
    file: '/apps/shop/application.yml',
    name: 'shop',
    description: 'A shop, for the tests',
    version: '1.2.0',
    services: [
      {
        name: 'web',
        description: 'the web server',
        receives: [],
        sends: ['users.create', 'users.list', 'audit.log'],
        contract: {
          module: '/apps/shop/web/src/contract.ts',
          messages: new Map([
            [
              'users.create',
              message(fromZod(z.object({ name: z.string().min(1) })), {
                'users.created': fromZod(z.object(user)),
                'users.exists': fromZod(z.object({ name: z.string() })),
              }),
            ],
            ['users.list', message(undefined, { 'users.listed': fromZod(z.array(TreeNode)) })],
            ['audit.log', message(fromArktype(type({ event: 'string', 'at?': 'number' })))],
          ]),
        },
      },
      {
        name: 'users',
        description: 'creates and lists users',
        receives: ['users.create', 'users.list'],
        sends: ['users.created', 'users.exists', 'users.listed', 'passwords.hash'],
        contract: {
          module: '/apps/shop/users/src/contract.ts',
          messages: new Map([
            [
              'users.create',
              message(fromValibot(v.object({ name: v.pipe(v.string(), v.minLength(1)) })), {
                'users.created': fromValibot(v.object({ id: v.string(), name: v.string() })),
                'users.exists': fromValibot(v.object({ name: v.string() })),
              }),
            ],
            ['users.list', message(undefined, { 'users.listed': fromZod(z.array(TreeNode)) })],
            [
              'passwords.hash',
              message({
                note: "custom-checks has no JSON Schema export: use a validator that has one (zod 4, arktype 2, valibot 1 with '@valibot/to-json-schema').",
                vendor: 'custom-checks',
              }),
            ],
          ]),
        },
      },
      {
        name: 'passwords',
        description: undefined,
        receives: ['passwords.hash'],
        sends: ['passwords.hashed'],
        contract: undefined,
      },
    ],
  }
}

/** Parses `text` with AsyncAPI's parser; fails on any diagnostic of severity error or warning. */
export async function assertValidAsyncApi(text: string): Promise<void> {
  const { document, diagnostics } = await new Parser().parse(text)
  const serious = diagnostics
    .filter((diagnostic) => diagnostic.severity <= 1)
    .map(
      (diagnostic) =>
        `${diagnostic.severity === 0 ? 'error' : 'warning'} ${diagnostic.code} at ${diagnostic.path.join('/')}: ${diagnostic.message}`,
    )
  assert.deepEqual(serious, [], 'the AsyncAPI parser finds no errors and no warnings')
  assert.ok(document !== undefined, 'the parser gives a document')
}
