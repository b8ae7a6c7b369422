import type { Server } from 'node:http'
import { createRequire } from 'node:module'
import Fastify, {
  type FastifyHttpOptions,
  type FastifyInstance,
  type FastifyServerOptions,
} from 'fastify'

type CompilersFactory = NonNullable<
  NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']
>
type ValidatorFactory = NonNullable<CompilersFactory['buildValidator']>
type SerializerFactory = NonNullable<CompilersFactory['buildSerializer']>

// The internal symbol Fastify keeps an instance's schema controller under (lib/symbols.js).
const SCHEMA_CONTROLLER = 'fastify.schemaController'

/**
 * A Fastify app whose schema compilers (Ajv and fast-json-stringify, about 110 modules and
 * 1.2 MB of heap) load on the first route with a schema instead of when the app is created.
 * The relay's routes have none, so an idle relay never loads them; a route added to the app
 * with a schema gets Fastify's own compilers, built the same way as without this.
 *
 * Fastify counts any `compilersFactory` as a custom compiler and then passes header schemas
 * to it unchanged, where its own compiler gets their keys lowercased. These are its own
 * compilers, so the app is marked as using the defaults; should a later Fastify keep its
 * schema controller elsewhere, the app is built plainly instead.
 */
export function fastifyWithLazySchemaCompilers(
  options: FastifyHttpOptions<Server>,
): FastifyInstance {
  const app = Fastify({ ...options, schemaController: { compilersFactory: lazyCompilers() } })
  return usesDefaultCompilers(app) ? app : Fastify(options)
}

function lazyCompilers(): CompilersFactory {
  // Each factory is Fastify's default, created once per app as Fastify does, so that its
  // pool of compilers is shared by the app's encapsulated contexts.
  let buildValidator: ValidatorFactory | undefined
  let buildSerializer: SerializerFactory | undefined
  return {
    buildValidator: (externalSchemas, options) => {
      buildValidator ??= fastifyDependency<() => ValidatorFactory>('@fastify/ajv-compiler')()
      return buildValidator(externalSchemas, options)
    },
    buildSerializer: (externalSchemas, options) => {
      buildSerializer ??= fastifyDependency<() => SerializerFactory>(
        '@fastify/fast-json-stringify-compiler',
      )()
      return buildSerializer(externalSchemas, options)
    },
  }
}

/** A package Fastify depends on, resolved from Fastify itself: it is not this package's. */
function fastifyDependency<T>(name: string): T {
  const fromHere = createRequire(import.meta.url)
  return createRequire(fromHere.resolve('fastify'))(name) as T
}

interface SchemaController {
  isCustomValidatorCompiler: boolean
  isCustomSerializerCompiler: boolean
}

/**
 * The one place that reaches into Fastify's private state (decision 0015): the schema
 * controller of `app`, or `undefined` when Fastify no longer keeps one where and as this
 * expects. A test fails loudly then, rather than the relay quietly loading Ajv again.
 */
export function schemaControllerOf(app: FastifyInstance): SchemaController | undefined {
  const key = Object.getOwnPropertySymbols(app).find(
    (symbol) => symbol.description === SCHEMA_CONTROLLER,
  )
  const controller: unknown =
    key === undefined ? undefined : (app as unknown as Record<symbol, unknown>)[key]
  return isSchemaController(controller) ? controller : undefined
}

function usesDefaultCompilers(app: FastifyInstance): boolean {
  const controller = schemaControllerOf(app)
  if (controller === undefined) return false
  controller.isCustomValidatorCompiler = false
  controller.isCustomSerializerCompiler = false
  return true
}

function isSchemaController(value: unknown): value is SchemaController {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as SchemaController).isCustomValidatorCompiler === 'boolean' &&
    typeof (value as SchemaController).isCustomSerializerCompiler === 'boolean'
  )
}
