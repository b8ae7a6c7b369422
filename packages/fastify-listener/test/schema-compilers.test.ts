import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import Fastify, { type FastifyInstance } from 'fastify'
import { fastifyWithLazySchemaCompilers, schemaControllerOf } from '../src/schema-compilers.js'

/** Routes with every kind of schema, the same in both apps compared below. */
function addSchemaRoutes(app: FastifyInstance): void {
  app.post(
    '/users',
    {
      schema: {
        headers: {
          type: 'object',
          properties: { 'X-Tenant': { type: 'string', minLength: 3 } },
          required: ['X-Tenant'],
        },
        body: {
          type: 'object',
          properties: { name: { type: 'string' }, age: { type: 'integer' } },
          required: ['name'],
        },
        response: {
          200: {
            type: 'object',
            properties: { name: { type: 'string' }, age: { type: 'integer' } },
          },
        },
      },
    },
    // The extra `secret` is left out by the response schema's serializer.
    async (request) => ({ ...(request.body as object), secret: 'hidden' }),
  )
  // An encapsulated context with a shared schema referenced by $ref.
  app.register(async (child) => {
    child.addSchema({ $id: 'id', type: 'object', properties: { id: { type: 'integer' } } })
    child.get('/items/:id', { schema: { params: { $ref: 'id#' } } }, async (request) => ({
      id: (request.params as { id: number }).id,
    }))
  })
}

const REQUESTS = [
  {
    method: 'POST',
    url: '/users',
    headers: { 'x-tenant': 'acme' },
    payload: { name: 'Will', age: 3 },
  },
  { method: 'POST', url: '/users', headers: { 'x-tenant': 'acme' }, payload: { age: 3 } },
  { method: 'POST', url: '/users', headers: { 'x-tenant': 'ac' }, payload: { name: 'Will' } },
  { method: 'POST', url: '/users', payload: { name: 'Will' } },
  { method: 'GET', url: '/items/42' },
  { method: 'GET', url: '/items/forty-two' },
] as const

describe('fastifyWithLazySchemaCompilers', () => {
  test('Fastify still keeps its schema controller where the lazy compilers expect it', () => {
    // The one reach into Fastify's private state (decision 0015). When a Fastify upgrade moves
    // it, the listener silently builds plain apps, which load Ajv at start again: this test is
    // what notices. Then drop the lazy compilers or follow Fastify, and update decision 0015.
    const explain =
      "Fastify no longer keeps the 'fastify.schemaController' symbol with isCustomValidatorCompiler " +
      'and isCustomSerializerCompiler flags: fastifyWithLazySchemaCompilers falls back to plain ' +
      'Fastify apps (Ajv loads eagerly again). See docs/decisions/0015-fastify-schema-compilers.md.'
    const custom = Fastify({
      schemaController: { compilersFactory: { buildValidator: (() => () => () => true) as never } },
    })
    assert.equal(schemaControllerOf(custom)?.isCustomValidatorCompiler, true, explain)
    const lazy = fastifyWithLazySchemaCompilers({})
    const controller = schemaControllerOf(lazy)
    assert.ok(controller !== undefined, explain)
    assert.equal(controller.isCustomValidatorCompiler, false, explain)
    assert.equal(controller.isCustomSerializerCompiler, false, explain)
  })

  test("routes with schemas validate and serialize exactly as with Fastify's own compilers", async (t) => {
    const plain = Fastify()
    const lazy = fastifyWithLazySchemaCompilers({})
    t.after(() => Promise.all([plain.close(), lazy.close()]))
    addSchemaRoutes(plain)
    addSchemaRoutes(lazy)
    const answers = async (app: FastifyInstance) => {
      const results = []
      for (const request of REQUESTS) {
        const response = await app.inject(request)
        results.push({ status: response.statusCode, body: response.body })
      }
      return results
    }
    const expected = await answers(plain)
    // The comparison means something only if the requests tell the cases apart.
    assert.deepEqual(
      expected.map((answer) => answer.status),
      [200, 400, 400, 400, 200, 400],
    )
    assert.equal(expected[0]?.body, '{"name":"Will","age":3}')
    assert.deepEqual(await answers(lazy), expected)
  })

  test('a relay listener loads no schema compiler; the first route with a schema loads them', async () => {
    // A fresh process, so that only what the listener itself imported is in the module cache.
    const listenerSource = new URL('../src/standalone-listener.ts', import.meta.url).href
    const script = `
      import { createRequire } from 'node:module'
      const { StandaloneListener } = await import(${JSON.stringify(listenerSource)})
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((file) => /[\\\\/]node_modules[\\\\/]ajv[\\\\/]/.test(file))
      const listener = new StandaloneListener()
      await listener.listen(() => ({ status: 'accepted' }), 0)
      const listening = loaded()
      await listener.close()
      const withSchema = new StandaloneListener()
      withSchema.app.get('/n', { schema: { querystring: { type: 'object', properties: { n: { type: 'integer' } } } } }, async () => 'ok')
      await withSchema.app.ready()
      const afterSchema = loaded()
      await withSchema.close()
      console.log(JSON.stringify({ listening, afterSchema }))
    `
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '--eval', script],
      { cwd: fileURLToPath(new URL('..', import.meta.url)) },
    )
    assert.deepEqual(JSON.parse(stdout), { listening: false, afterSchema: true })
  })
})
