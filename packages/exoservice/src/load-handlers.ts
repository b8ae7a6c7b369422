import { execFile } from 'node:child_process'
import { access } from 'node:fs/promises'
import { extname, join, relative } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describeValue } from '@exorelay/core/internal'
import type { Contract, Handler } from 'exorelay'
import { contractOf, LIFECYCLE_HOOKS, type LifecycleHooks } from './define-service.js'
import {
  ExoServiceError,
  type ExoServiceErrorCode,
  ExoServiceErrorCodes,
  thrownMessage,
} from './errors.js'
import { DEFAULT_SERVER_FILES, type ServiceFile } from './service-file.js'

/** A service's handler module, loaded and checked against its `service.yml`. */
export interface LoadedHandlers {
  /** The absolute path of the module. */
  file: string
  /** The contract `defineService(contract, …)` attached to the map, when it did. */
  contract: Contract | undefined
  /** The handlers by message name, without the lifecycle hooks. */
  handlers: Record<string, Handler>
  /** `beforeAll` and `afterAll`, when the module has them. */
  hooks: LifecycleHooks
  /** One sentence for each handler that `service.yml` does not declare under `receives`. */
  warnings: string[]
}

// Extensions Node cannot load by itself: tsx compiles them.
const TYPESCRIPT = new Set(['.ts', '.mts', '.cts'])

let typeScriptRegistered = false

/**
 * Registers tsx for this whole process, once: TypeScript handler modules are then imported as
 * any module is, sharing this process's exorelay and exoservice. For `exoservice run`, whose
 * process is the service's own.
 */
export async function registerTypeScript(): Promise<void> {
  if (typeScriptRegistered) return
  const { register } = await import('tsx/esm/api')
  register()
  typeScriptRegistered = true
}

/**
 * Finds the service's handler module (`server` in `service.yml`, else the first of
 * {@link DEFAULT_SERVER_FILES} that exists), loads it, and checks that its default export is a
 * handler map with a handler for every message the service `receives`. Throws an
 * {@link ExoServiceError} coded `EXOSERVICE_ERR_HANDLERS` naming the module and what to fix.
 */
export async function loadHandlers(service: ServiceFile): Promise<LoadedHandlers> {
  const file = await findModule(service)
  const loaded = checkDefinition(await importDefault(file), file)
  const missing = service.receives.filter((name) => !Object.hasOwn(loaded.handlers, name))
  if (missing.length > 0) {
    throw new ExoServiceError(
      ExoServiceErrorCodes.HANDLERS,
      `${file}: no handler for ${missing.map((name) => `'${name}'`).join(', ')}, which ${relative(service.folder, service.file)} lists under messages.receives. Add a handler for each to the default export, or remove them from receives.`,
      { file },
    )
  }
  const declared = new Set(service.receives)
  loaded.warnings = Object.keys(loaded.handlers)
    .filter((name) => !declared.has(name))
    .map(
      (name) =>
        `${file}: the handler for '${name}' is not declared under messages.receives in ${service.file}. The relay serves it anyway once it registers with the bus, but service.yml no longer says what the service receives, and a bus that routes by a table built from it (before the service registers, or with an original relay) does not route '${name}' here. Add '${name}' to receives, or remove the handler.`,
    )
  return loaded
}

/**
 * Splits a handler map into its handlers and its lifecycle hooks, checking that each is a
 * function. `file` names the map in errors: the module's path, or a label for a map given as
 * an object. Throws an {@link ExoServiceError} coded `EXOSERVICE_ERR_HANDLERS`.
 */
export function checkDefinition(definition: unknown, file: string): LoadedHandlers {
  const fail = (message: string): never => {
    throw new ExoServiceError(ExoServiceErrorCodes.HANDLERS, `${file}: ${message}`, { file })
  }
  if (definition === null || typeof definition !== 'object' || Array.isArray(definition)) {
    fail(
      `its default export must be the handler map, an object of handlers by message name, got ${describeValue(definition)}. Export it as \`export default defineService({ ... })\`.`,
    )
  }
  const handlers: Record<string, Handler> = {}
  const hooks: LifecycleHooks = {}
  for (const [key, value] of Object.entries(definition as object)) {
    const hook = (LIFECYCLE_HOOKS as readonly string[]).includes(key)
    if (typeof value !== 'function') {
      fail(
        hook
          ? `'${key}' must be a function (the lifecycle hook), got ${describeValue(value)}.`
          : `the handler for '${key}' must be a function (payload, { reply, send }) => ..., got ${describeValue(value)}.`,
      )
    }
    if (hook) hooks[key as keyof LifecycleHooks] = value
    else handlers[key] = value
  }

  return { file, contract: contractOf(definition), handlers, hooks, warnings: [] }
}

/** The absolute path of the service's handler module; see {@link loadHandlers}. */
async function findModule(service: ServiceFile): Promise<string> {
  const candidates = service.server === undefined ? DEFAULT_SERVER_FILES : [service.server]
  for (const candidate of candidates) {
    const file = join(service.folder, candidate)
    if (await exists(file)) return file
  }
  const tried = candidates.map((candidate) => join(service.folder, candidate)).join(', ')
  throw new ExoServiceError(
    ExoServiceErrorCodes.HANDLERS,
    service.server === undefined
      ? `${service.folder}: no handler module: tried ${tried}. Create src/server.ts with the handler map as its default export (\`export default defineService({ ... })\`), or name the module in service.yml as \`server: <path>\`.`
      : `${service.file}: \`server: ${service.server}\` names a module that does not exist (${tried}). Fix the path, or create the module.`,
    { file: service.server === undefined ? service.folder : service.file },
  )
}

export async function exists(file: string): Promise<boolean> {
  try {
    await access(file)
    return true
  } catch {
    return false
  }
}

/** The module's default export; a module that throws while loading says so, naming the file. */
async function importDefault(file: string): Promise<unknown> {
  const module = await importModule(file, ExoServiceErrorCodes.HANDLERS)
  if (!('default' in module)) {
    throw new ExoServiceError(
      ExoServiceErrorCodes.HANDLERS,
      `${file}: has no default export. Export the handler map as the default: \`export default defineService({ ... })\`.`,
      { file },
    )
  }
  return unwrapCommonJs(module.default)
}

/**
 * Imports a module of a service (its handlers, its contract), TypeScript through tsx. A module
 * that throws while loading rejects with an {@link ExoServiceError} of `code`, naming the file.
 */
export async function importModule(
  file: string,
  code: ExoServiceErrorCode,
): Promise<Record<string, unknown>> {
  const url = pathToFileURL(file).href
  try {
    // Without tsx registered for the process, tsImport loads the module and what it imports
    // through tsx in a namespace of its own: TypeScript works in a process that is not ours
    // (a test runner may have set up tsx already, or not). That namespace has its own copies of
    // exorelay and exoservice; `exoservice run` avoids them with registerTypeScript().
    if (TYPESCRIPT.has(extname(file)) && !typeScriptRegistered) {
      const { tsImport } = await import('tsx/esm/api')
      return (await tsImport(url, import.meta.url)) as Record<string, unknown>
    }
    return (await import(url)) as Record<string, unknown>
  } catch (cause) {
    const syntax = await syntaxError(cause, file)
    throw new ExoServiceError(
      code,
      syntax === undefined
        ? `${file}: the module threw while loading: ${thrownMessage(cause)}. Fix the error in the module (or in what it imports).`
        : `${file}: the module does not parse: ${syntax}. Fix the syntax error there.`,
      { file, cause },
    )
  }
}

// esbuild's (tsx's) message: `Transform failed with 1 error:\n<file>:<line>:<column>: ERROR: <text>`.
const ESBUILD_ERROR = /^Transform failed with \d+ errors?:\s*(.+?:\d+:\d+): ERROR: ([^\n]*)/

/**
 * A syntax error as `<what> at <file>:<line>[:<column>]`, or `undefined` for any other error. tsx
 * (esbuild) says where in its message; Node's own SyntaxError for a JavaScript module does not,
 * so `node --check` is asked (only on this failure path): it gives the line, when the module
 * itself does not parse.
 */
async function syntaxError(cause: unknown, file: string): Promise<string | undefined> {
  const text = cause instanceof Error ? cause.message : ''
  const esbuild = ESBUILD_ERROR.exec(text)
  if (esbuild !== null) return `${esbuild[2]} at ${esbuild[1]}`
  if (!(cause instanceof SyntaxError) || TYPESCRIPT.has(extname(file))) return undefined
  const checked = await new Promise<string>((resolve) => {
    execFile(process.execPath, ['--check', file], { timeout: 10_000 }, (_error, _out, stderr) =>
      resolve(String(stderr)),
    )
  })
  // `<file>:<line>` first when the module itself does not parse; nothing when it does (a
  // SyntaxError it threw while running, JSON.parse's, or one in what it imports).
  const line = checked.startsWith(`${file}:`) ? /^:(\d+)\n/.exec(checked.slice(file.length)) : null
  return line === null ? undefined : `${thrownMessage(cause)} at ${file}:${line[1]}`
}

/**
 * An export as the module meant it. A module compiled to CommonJS (a .ts file in a package
 * without "type": "module") exports `{ __esModule, default }`, which an import sees as its default.
 */
export function unwrapCommonJs(value: unknown): unknown {
  if (
    value !== null &&
    typeof value === 'object' &&
    (value as { __esModule?: unknown }).__esModule === true &&
    'default' in value
  ) {
    return value.default
  }
  return value
}
