import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type } from 'arktype'
import type { MessageSchemas } from 'exorelay'
import * as v from 'valibot'
import { z } from 'zod'
import { comparableJsonSchema, exportJsonSchema, sameJson } from '../src/json-schema.js'

/** Whether two exported JSON Schemas accept the same data, as the landscape check compares them. */
function sameJsonSchema(a: unknown, b: unknown): boolean {
  return sameJson(comparableJsonSchema(a), comparableJsonSchema(b))
}

type Schema = NonNullable<MessageSchemas['payload']>

// Where valibot's exporter resolves from: exoservice's own dev dependencies.
const here = fileURLToPath(new URL('.', import.meta.url))

/** The exported JSON Schema of a validator's schema, as the check gets it. */
async function exported(schema: Schema): Promise<unknown> {
  const result = await exportJsonSchema(schema, here)
  assert.ok('jsonSchema' in result, `no JSON Schema: ${JSON.stringify(result)}`)
  return result.jsonSchema
}

/**
 * Checks one rule of the normaliser with the same data written in zod 4, valibot and arktype:
 * their exports differ as written (so the rule is what makes them equal), and read the same once
 * normalised, as `expected`.
 */
async function sameData(
  schemas: { zod: Schema; valibot: Schema; arktype?: Schema },
  expected: unknown,
): Promise<void> {
  const exports = await Promise.all(
    [schemas.zod, schemas.valibot, ...(schemas.arktype ? [schemas.arktype] : [])].map(exported),
  )
  assert.ok(
    exports.some((one) => JSON.stringify(one) !== JSON.stringify(exports[0])),
    `the validators write it alike already: ${JSON.stringify(exports)}`,
  )
  for (const one of exports) {
    assert.deepEqual(comparableJsonSchema(one), expected, JSON.stringify(one))
    assert.ok(sameJsonSchema(one, exports[0]))
  }
}

test('the order of required and enum says nothing: zod and valibot objects, picklist and enum', async () => {
  await sameData(
    {
      zod: z.object({ name: z.string(), email: z.string() }),
      valibot: v.object({ email: v.string(), name: v.string() }),
    },
    {
      type: 'object',
      properties: { email: { type: 'string' }, name: { type: 'string' } },
      required: ['email', 'name'],
    },
  )
  await sameData(
    { zod: z.enum(['a', 'b']), valibot: v.picklist(['b', 'a']), arktype: type("'b' | 'a'") },
    { enum: ['a', 'b'] },
  )
  // Two zod modules, fields in another order.
  assert.ok(
    sameJsonSchema(
      await exported(z.object({ name: z.string(), email: z.string() })),
      await exported(z.object({ email: z.string(), name: z.string() })),
    ),
  )
})

test('an empty required is dropped: an optional field in zod, valibot and arktype', async () => {
  await sameData(
    {
      zod: z.object({ a: z.string().optional() }),
      valibot: v.object({ a: v.optional(v.string()) }),
      arktype: type({ 'a?': 'string' }),
    },
    { type: 'object', properties: { a: { type: 'string' } } },
  )
})

test("zod's safe-integer bounds are dropped; other bounds are kept", async () => {
  await sameData(
    {
      zod: z.int(),
      valibot: v.pipe(v.number(), v.integer()),
      arktype: type('number.integer'),
    },
    { type: 'integer' },
  )
  assert.deepEqual(comparableJsonSchema(await exported(z.int().min(1))), {
    type: 'integer',
    minimum: 1,
  })
  assert.deepEqual(comparableJsonSchema({ type: 'integer', maximum: 10 }), {
    type: 'integer',
    maximum: 10,
  })
})

test('nullable: an anyOf of bare types is a type list, in any order', async () => {
  await sameData(
    {
      zod: z.string().nullable(),
      valibot: v.nullable(v.string()),
      arktype: type('string | null'),
    },
    { type: ['null', 'string'] },
  )
  // A branch with more than a type stays an anyOf.
  assert.deepEqual(
    comparableJsonSchema({ anyOf: [{ type: 'string', minLength: 1 }, { type: 'null' }] }),
    { anyOf: [{ type: 'string', minLength: 1 }, { type: 'null' }] },
  )
})

test("a literal: the type beside const (or enum) is dropped when it is the values' own", async () => {
  await sameData(
    { zod: z.literal('x'), valibot: v.literal('x'), arktype: type("'x'") },
    { const: 'x' },
  )
  assert.deepEqual(comparableJsonSchema(await exported(z.literal(1))), { const: 1 })
  assert.deepEqual(comparableJsonSchema({ type: 'string', const: 1 }), { type: 'string', const: 1 })
})

test('annotations are dropped: a default, a description, a title', async () => {
  await sameData(
    {
      zod: z.object({ r: z.string().default('m').describe('the role') }),
      valibot: v.object({ r: v.optional(v.string(), 'm') }),
      arktype: type({ r: 'string = "m"' }),
    },
    { type: 'object', properties: { r: { type: 'string' } } },
  )
  // A property named like an annotation is a property, not an annotation.
  assert.deepEqual(
    comparableJsonSchema(await exported(z.object({ default: z.string(), title: z.string() }))),
    {
      type: 'object',
      properties: { default: { type: 'string' }, title: { type: 'string' } },
      required: ['default', 'title'],
    },
  )
})

test("a format is compared, the validator's own pattern for it is not", async () => {
  await sameData(
    {
      zod: z.email(),
      valibot: v.pipe(v.string(), v.email()),
      arktype: type('string.email'),
    },
    { type: 'string', format: 'email' },
  )
  assert.equal(
    sameJsonSchema(await exported(z.email()), await exported(z.url())),
    false,
    'email and url differ',
  )
  // A pattern with no format is the data's own: compared.
  assert.equal(
    sameJsonSchema(await exported(z.string().regex(/^a/)), await exported(z.string())),
    false,
  )
})

test('rules apply at every depth: items, properties, anyOf branches', async () => {
  await sameData(
    {
      zod: z.array(z.object({ id: z.int(), tag: z.string().nullable() })),
      valibot: v.array(
        v.object({ tag: v.nullable(v.string()), id: v.pipe(v.number(), v.integer()) }),
      ),
    },
    {
      type: 'array',
      items: {
        type: 'object',
        properties: { id: { type: 'integer' }, tag: { type: ['null', 'string'] } },
        required: ['id', 'tag'],
      },
    },
  )
})
