import { existsSync } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import { type Document, isNode } from 'yaml'
import { LIFECYCLE_HOOKS } from './define-service.js'
import { ExoServiceError, ExoServiceErrorCodes } from './errors.js'
import { parseYaml, readYamlText } from './yaml-file.js'

/** The name of the file that describes a service, in the service's folder. */
export const SERVICE_FILE_NAME = 'service.yml'

/** The command a service runs with when its `service.yml` names none. */
export const DEFAULT_STARTUP_COMMAND = 'exoservice run'

/** The text `exoservice run` prints when the service is online (`online at port <N>`). */
export const DEFAULT_ONLINE_TEXT = 'online at port'

/** Where the handler module is looked for when `service.yml` names none, in this order. */
export const DEFAULT_SERVER_FILES: readonly string[] = ['src/server.ts', 'src/server.js']

/** A service's `service.yml`, read and checked. */
export interface ServiceFile {
  /** The absolute path of the `service.yml`. */
  file: string
  /** The absolute path of the service's folder. */
  folder: string
  /** The service's type: its default `SERVICE_NAME`. */
  type: string
  /** What the service does, in a sentence. */
  description: string | undefined
  /** How the landscape runner starts the service, and the text that says it is online. */
  startup: {
    /** The shell command, run in the service's folder. Default `exoservice run`. */
    command: string
    /** The text in the service's output that says it is online. Default `online at port`. */
    onlineText: string
  }
  /** The handler module as `service.yml` names it (relative to the folder), if it does. */
  server: string | undefined
  /** The messages the service handles: each needs a handler. */
  receives: string[]
  /** The messages the service sends (requests, and the outcomes it replies with). */
  sends: string[]
  /**
   * The absolute path of the contract module `messages.contract` names, if it does: the module
   * exports the service's contract (`defineContract`) as `contract` or as its default.
   */
  contract: string | undefined
}

// A message name in a service.yml: dotted parts of letters, digits, '-' and '_'. Stricter than
// what the wire takes, so that a typo (a space, a trailing dot) is caught before anything runs.
export const MESSAGE_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/
// A service type becomes SERVICE_NAME, the relay's name on the bus.
export const SERVICE_TYPE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/
const MAX_NAME_LENGTH = 512
const KNOWN_KEYS = new Set([
  'type',
  'description',
  'author',
  'startup',
  'server',
  'messages',
  'docker',
  'setup',
  'tests',
  'restart',
  'development',
  'production',
])

/**
 * Reads and checks `<folder>/service.yml`. Throws an {@link ExoServiceError} with the code
 * `EXOSERVICE_ERR_SERVICE_FILE` naming the file, the line where YAML gives one, and what to fix,
 * when the file is missing, is not YAML, or does not declare the service's type and messages
 * with valid, distinct names.
 */
export async function readServiceFile(folder: string): Promise<ServiceFile> {
  const root = resolve(folder)
  const file = join(root, SERVICE_FILE_NAME)
  // A mistyped folder is the likelier mistake than a missing file in the right one: say which.
  if (!existsSync(root)) {
    throw new ExoServiceError(
      ExoServiceErrorCodes.SERVICE_FILE,
      `${root}: no such folder. Name the service's folder (the one that holds its service.yml), e.g. \`exoservice run ./users\`.`,
      { file: root },
    )
  }
  const text = await readYamlText(
    file,
    ExoServiceErrorCodes.SERVICE_FILE,
    'A service folder holds a service.yml; create one (`exoservice new <name>` scaffolds a service), or point at the right folder.',
  )
  return parseServiceFile(text, file)
}

/** Checks the text of a `service.yml` read from `file`; see {@link readServiceFile}. */
export function parseServiceFile(text: string, file: string): ServiceFile {
  const { doc, fail } = parseYaml(text, file, ExoServiceErrorCodes.SERVICE_FILE)
  const top: unknown = doc.toJS()
  if (top === null || typeof top !== 'object' || Array.isArray(top)) {
    fail('must be a YAML mapping with at least `type` and `messages` (see `exoservice new`).')
  }
  const data = top as Record<string, unknown>
  for (const key of Object.keys(data)) {
    if (!KNOWN_KEYS.has(key)) {
      fail(
        `unknown key '${key}'. A service.yml has type, description, startup, server and messages; check the spelling.`,
        doc.get(key, true) ?? keyNode(doc, key),
      )
    }
  }

  const type = data.type
  if (typeof type !== 'string' || !SERVICE_TYPE.test(type) || type.length > 256) {
    fail(
      type === undefined
        ? "has no `type`: add `type: <service-name>` (it is the service's default SERVICE_NAME)."
        : `\`type\` must be a service name (letters, digits, '.', '-', '_'; at most 256), got ${JSON.stringify(type)}.`,
      doc.get('type', true),
    )
  }
  const description = data.description
  if (description !== undefined && description !== null && typeof description !== 'string') {
    fail('`description` must be a string.', doc.get('description', true))
  }

  const startup = data.startup ?? {}
  if (startup === null || typeof startup !== 'object' || Array.isArray(startup)) {
    fail('`startup` must be a mapping with `command` and `online-text`.', doc.get('startup', true))
  }
  const { command = DEFAULT_STARTUP_COMMAND, 'online-text': onlineText = DEFAULT_ONLINE_TEXT } =
    startup as Record<string, unknown>
  for (const [key, value] of [
    ['command', command],
    ['online-text', onlineText],
  ] as const) {
    if (typeof value !== 'string' || value.trim() === '') {
      fail(`\`startup.${key}\` must be a non-empty string.`, doc.getIn(['startup', key], true))
    }
  }

  const server = data.server
  if (server !== undefined && (typeof server !== 'string' || server === '' || isAbsolute(server))) {
    fail(
      '`server` must name the handler module relative to the service folder, e.g. `server: src/server.ts`.',
      doc.get('server', true),
    )
  }

  const messages = data.messages
  if (messages === undefined || messages === null) {
    fail(
      'has no `messages`: add `messages: { receives: [...], sends: [...] }` listing the messages the service handles and sends.',
      doc.get('messages', true),
    )
  }
  if (typeof messages !== 'object' || Array.isArray(messages)) {
    fail(
      '`messages` must be a mapping with `receives` and `sends` lists.',
      doc.get('messages', true),
    )
  }
  const lists = messages as Record<string, unknown>
  for (const key of Object.keys(lists)) {
    if (key !== 'receives' && key !== 'sends' && key !== 'contract') {
      fail(
        `unknown key 'messages.${key}': only \`receives\`, \`sends\` and \`contract\` belong there.`,
        keyNode(doc, 'messages', key),
      )
    }
  }
  const names = (key: 'receives' | 'sends'): string[] => {
    const list = lists[key] ?? []
    if (!Array.isArray(list)) {
      fail(
        `\`messages.${key}\` must be a list of message names.`,
        doc.getIn(['messages', key], true),
      )
    }
    const seen = new Set<string>()
    return (list as unknown[]).map((name, index) => {
      const at = doc.getIn(['messages', key, index], true)
      if (typeof name !== 'string' || !MESSAGE_NAME.test(name) || name.length > MAX_NAME_LENGTH) {
        fail(
          `messages.${key}[${index}] ${JSON.stringify(name)} is not a valid message name: use letters, digits, '-' and '_', in parts joined by dots, e.g. users.create.`,
          at,
        )
      }
      if ((LIFECYCLE_HOOKS as readonly unknown[]).includes(name)) {
        fail(
          `messages.${key}[${index}] '${name}' is reserved: it names a lifecycle hook of the handler module, not a message. Rename the message, e.g. ${type as string}.${name}.`,
          at,
        )
      }
      if (seen.has(name as string)) {
        fail(`messages.${key} lists '${name}' twice: remove one.`, at)
      }
      seen.add(name as string)
      return name as string
    })
  }
  const receives = names('receives')
  const sends = names('sends')
  const contract = lists.contract
  if (
    contract !== undefined &&
    (typeof contract !== 'string' || contract === '' || isAbsolute(contract))
  ) {
    fail(
      '`messages.contract` must name the contract module relative to the service folder, e.g. `contract: src/contract.ts`.',
      doc.getIn(['messages', 'contract'], true),
    )
  }

  const folder = resolve(file, '..')
  return {
    file,
    folder,
    type: type as string,
    description: typeof description === 'string' ? description : undefined,
    startup: { command: command as string, onlineText: onlineText as string },
    server: server as string | undefined,
    receives,
    sends,
    contract: contract === undefined ? undefined : resolve(folder, contract as string),
  }
}

/** The key node of `path`'s last key, for a key that has no value node worth pointing at. */
function keyNode(doc: Document, ...path: string[]): unknown {
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true)
  const items = (parent as { items?: { key: unknown }[] } | null)?.items ?? []
  const last = path[path.length - 1]
  return items.find((pair) => isNode(pair.key) && (pair.key as { value?: unknown }).value === last)
    ?.key
}
