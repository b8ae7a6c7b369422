import { basename, dirname, relative } from 'node:path'
import { ERROR_REPLY } from '@exorelay/core/internal'
import { DEFAULT_EXOCOM_PORT } from '@exorelay/exocom'
import { ErrorCodes } from 'exorelay'
import { compareCodePoints } from './json-schema.js'
import type {
  ContractMessage,
  ContractService,
  ExportedSchema,
  LandscapeContracts,
} from './landscape-contracts.js'

// `exoservice asyncapi`: the landscape as an AsyncAPI 3.0 document. One channel per message
// name (its address is the name: ExoCom routes by name), the services' sends and receives as
// operations, and a request's reply outcomes as the messages of a reply channel of their own.
// Pure and deterministic: the same landscape gives the same text, on any machine.

/** The AsyncAPI version the document declares. */
export const ASYNCAPI_VERSION = '3.0.0'

/**
 * The schema format of the payloads: the contracts export JSON Schema draft-07. AsyncAPI's own
 * default format is a superset of it, but naming it says what made the schema.
 */
export const PAYLOAD_SCHEMA_FORMAT = 'application/schema+json;version=draft-07'

type Json = Record<string, unknown>

/** The key of the error reply in `components.messages`, which each reply channel references. */
const ERROR_MESSAGE_ID = 'exorelay.error'

/** The error reply as an AsyncAPI message: its payload as docs/protocol.md describes it. */
const ERROR_MESSAGE: Json = {
  name: ERROR_REPLY,
  title: 'Error reply',
  description: `Any request may be answered with it instead of an outcome: the handler threw (its error's own \`code\`, else ${ErrorCodes.HANDLER_FAILED}), or the receiver refused the payload (${ErrorCodes.PAYLOAD_INVALID}), or the bus could not deliver the request. The requester's send rejects with it. Every ExoRelay relay gets it; an original Exosphere relay, which does not declare that it understands error replies, never does (its request times out instead).`,
  payload: {
    schemaFormat: PAYLOAD_SCHEMA_FORMAT,
    schema: {
      type: 'object',
      properties: {
        code: {
          type: 'string',
          description: "The error's code: the thrown error's own, or an EXORELAY_ERR_… code.",
        },
        message: { type: 'string', description: 'What failed, in one sentence.' },
        data: {
          description: `The thrown error's \`data\`, when it is JSON. For ${ErrorCodes.PAYLOAD_INVALID} and ${ErrorCodes.REPLY_INVALID}: the issues the validator found (at most 20, each cut to 200 characters), how many there were, and the reply's outcome.`,
        },
        service: { type: 'string', description: 'The service whose handler failed.' },
      },
      required: ['code', 'message'],
      if: {
        properties: {
          code: { enum: [ErrorCodes.PAYLOAD_INVALID, ErrorCodes.REPLY_INVALID] },
        },
        required: ['code'],
      },
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema's `if`/`then`, data never awaited.
      then: {
        properties: {
          data: {
            type: 'object',
            properties: {
              issues: {
                type: 'array',
                maxItems: 20,
                items: {
                  type: 'object',
                  properties: {
                    path: {
                      type: 'string',
                      description: "Where, like `user.tags[2]`; '' for the root.",
                    },
                    message: { type: 'string' },
                  },
                  required: ['path', 'message'],
                },
              },
              issueCount: {
                type: 'integer',
                minimum: 0,
                description: 'How many issues there were in all.',
              },
              outcome: {
                type: 'string',
                description: `The reply's outcome, for ${ErrorCodes.REPLY_INVALID}.`,
              },
            },
            required: ['issues', 'issueCount'],
          },
        },
      },
    },
  },
}

/** The schemas a message has in the document, and the service whose contract gave them. */
interface MessageSource {
  service: string
  /** The contract module's absolute path. */
  module: string
  message: ContractMessage
}

/**
 * The landscape as an AsyncAPI 3.0 document, a plain object ready for `JSON.stringify` or YAML.
 *
 * - `info`: application.yml's name (else its folder's name), `version` (else `0.0.0`) and
 *   description.
 * - `channels`: one per message name, `address` = the name, with one message whose payload is
 *   the contract's JSON Schema; a request whose contract lists reply outcomes also gets a
 *   channel `<name>.replies` (address `null`: a reply goes back to whoever asked) with one
 *   message per outcome, and the error reply (`__error`, one message in `components.messages`
 *   that each reply channel references: its payload is `{ code, message, data?, service? }`).
 * - `operations`: per service, in application.yml's order, `<service>.receive.<name>` for each
 *   message it receives and `<service>.send.<name>` for each it sends, with a `reply` where the
 *   contract lists outcomes. The outcomes a service replies with (or receives as the reply to
 *   its own request) are that `reply`, not operations of their own.
 *
 * A message's schemas come from the contract of the first service that receives it and
 * defines it, else of the first that sends it: the receiver validates what it takes. Where
 * contracts disagree, `exoservice check` says so.
 *
 * @example
 * ```ts
 * import { asyncApiDocument, loadLandscapeContracts, readApplicationFile } from 'exoservice'
 *
 * const landscape = await loadLandscapeContracts(await readApplicationFile('application.yml'))
 * console.log(JSON.stringify(asyncApiDocument(landscape), null, 2))
 * ```
 */
export function asyncApiDocument(landscape: LandscapeContracts): Record<string, unknown> {
  const root = dirname(landscape.file)
  // One namespace per kind of key: a `$ref` names the kind, so only keys of a kind must differ.
  const ids = {
    channel: new IdAllocator(),
    message: new IdAllocator(),
    operation: new IdAllocator(),
  }
  const schemas: Json = {}
  const channels = new Map<string, Json>()
  const channelIds = new Map<string, string>()
  const replyChannelIds = new Map<string, string>()

  const sourceOf = (name: string): MessageSource | undefined => {
    for (const list of ['receives', 'sends'] as const) {
      for (const { name: service, contract, [list]: names } of landscape.services) {
        const message = names.includes(name) ? contract?.messages.get(name) : undefined
        if (contract !== undefined && message !== undefined) {
          return { service, module: contract.module, message }
        }
      }
    }
    return undefined
  }
  const outcomesOf = (name: string): string[] => [...(sourceOf(name)?.message.replies.keys() ?? [])]

  /** What a message says about where its schema comes from, and its payload when it has one. */
  const messageObject = (
    name: string,
    schema: ExportedSchema | undefined,
    source: MessageSource | undefined,
    id: string,
  ): Json => {
    const message: Json = { name }
    if (source === undefined) {
      message.description = 'No contract describes it: its payload is whatever its sender sends.'
      return message
    }
    const from = `the contract of ${source.service} (${relativePath(root, source.module)})`
    if (schema === undefined) {
      message.description = `It carries no payload, says ${from}.`
    } else if ('note' in schema) {
      message.description = `No JSON Schema for its payload in ${from}: ${schema.note}`
    } else {
      message.description = `Its payload is validated by ${schema.vendor}, from ${from}.`
      message.payload = {
        schemaFormat: PAYLOAD_SCHEMA_FORMAT,
        schema: placeSchema(schema.jsonSchema, id, schemas),
      }
    }
    return message
  }

  /** The channel of `name`'s messages, made on first use; returns its id. */
  const channelOf = (name: string): string => {
    const known = channelIds.get(name)
    if (known !== undefined) return known
    const id = ids.channel.take(name)
    const source = sourceOf(name)
    const messageId = ids.message.take(name)
    channelIds.set(name, id)
    channels.set(id, {
      address: name,
      messages: { [messageId]: messageObject(name, source?.message.payload, source, messageId) },
    })
    return id
  }

  /** The channel of the replies to `request`, made on first use; returns its id. */
  const replyChannelOf = (request: string): string => {
    const known = replyChannelIds.get(request)
    if (known !== undefined) return known
    const source = sourceOf(request)
    const id = ids.channel.take(`${request}.replies`)
    const messages: Json = {}
    for (const [outcome, schema] of source?.message.replies ?? []) {
      const messageId = ids.message.take(`${request}.${outcome}`)
      messages[messageId] = messageObject(outcome, schema, source, messageId)
    }
    // The error reply, which any request may get: one message, shared.
    messages[ids.message.take(`${request}.${ERROR_REPLY}`)] = {
      $ref: `#/components/messages/${pointer(ERROR_MESSAGE_ID)}`,
    }
    replyChannelIds.set(request, id)
    channels.set(id, {
      address: null,
      description: `The replies to ${request}, one message per outcome, and the error reply: each goes back to the service that sent the request.`,
      messages,
    })
    return id
  }

  const messageRefs = (channelId: string): Json[] =>
    Object.keys((channels.get(channelId) as { messages: Json }).messages).map((messageId) => ({
      $ref: `#/channels/${pointer(channelId)}/messages/${pointer(messageId)}`,
    }))

  const operations: Json = {}
  const operation = (service: ContractService, action: 'send' | 'receive', name: string) => {
    const channelId = channelOf(name)
    const op: Json = {
      action,
      channel: { $ref: `#/channels/${pointer(channelId)}` },
      summary: `${service.name} ${action}s ${name}.`,
      messages: messageRefs(channelId),
    }
    if (outcomesOf(name).length > 0) {
      const replies = replyChannelOf(name)
      op.reply = {
        channel: { $ref: `#/channels/${pointer(replies)}` },
        messages: messageRefs(replies),
      }
    }
    operations[ids.operation.take(`${service.name}.${action}.${name}`)] = op
  }

  for (const service of landscape.services) {
    // Outcomes of the requests it takes (it replies with them) and of those it makes (they come
    // back to it): the `reply` of those operations says them.
    const replies = (names: readonly string[]) => new Set(names.flatMap(outcomesOf))
    const repliesItSends = replies(service.receives)
    const repliesItGets = replies(service.sends)
    for (const name of service.receives) {
      if (!repliesItGets.has(name)) operation(service, 'receive', name)
    }
    for (const name of service.sends) {
      if (!repliesItSends.has(name)) operation(service, 'send', name)
    }
  }

  const info: Json = {
    title: landscape.name ?? basename(root),
    version: landscape.version ?? '0.0.0',
  }
  if (landscape.description !== undefined) info.description = landscape.description
  const document: Json = {
    asyncapi: ASYNCAPI_VERSION,
    info,
    defaultContentType: 'application/json',
    servers: { exocom: exoComServer(landscape.busPort) },
    channels: Object.fromEntries([...channels].sort(([a], [b]) => compareCodePoints(a, b))),
    operations,
  }
  const components: Json = {}
  if (Object.keys(schemas).length > 0) components.schemas = schemas
  if (replyChannelIds.size > 0) components.messages = { [ERROR_MESSAGE_ID]: ERROR_MESSAGE }
  if (Object.keys(components).length > 0) document.components = components
  return document
}

/**
 * ExoCom, through which every channel is reached (a channel that names no servers is on all of
 * them). Its port is application.yml's `bus.port`, else ExoCom's default (not env `EXOCOM_PORT`:
 * the document is the same on every machine); a variable, since a deployment picks its own.
 */
function exoComServer(busPort: number | undefined): Json {
  const port = busPort === undefined || busPort === 0 ? DEFAULT_EXOCOM_PORT : busPort
  return {
    host: 'localhost:{port}',
    protocol: 'http',
    title: 'ExoCom',
    description:
      'The bus: a service posts each message to it (POST /send), and it delivers the message to the services that receive it.',
    variables: {
      port: {
        default: String(port),
        description: "ExoCom's port: bus.port in application.yml, else ExoCom's default.",
      },
    },
  }
}

/**
 * The schema as the payload's `schema`: inline, unless it points into itself (`#`,
 * `#/definitions/…`: zod's recursive and shared schemas). Inline, such a pointer would resolve
 * against the AsyncAPI document, so the schema moves to `components.schemas` and its
 * pointers are rebased there, under the message's id (unique, so the schema's id is too).
 */
function placeSchema(jsonSchema: Json, componentId: string, schemas: Json): Json {
  // The schema format says the draft; a `$schema` inside would say it twice.
  const { $schema: _, ...schema } = jsonSchema
  if (!hasLocalRef(schema)) return schema
  const base = `#/components/schemas/${pointer(componentId)}`
  schemas[componentId] = rebase(schema, base)
  return { $ref: base }
}

function hasLocalRef(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasLocalRef)
  if (typeof value !== 'object' || value === null) return false
  return Object.entries(value).some(([key, inner]) =>
    key === '$ref' && typeof inner === 'string' ? inner.startsWith('#') : hasLocalRef(inner),
  )
}

function rebase(value: unknown, base: string): unknown {
  if (Array.isArray(value)) return value.map((item) => rebase(item, base))
  if (typeof value !== 'object' || value === null) return value
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      key,
      key === '$ref' && typeof inner === 'string' && inner.startsWith('#')
        ? `${base}${inner.slice(1)}`
        : rebase(inner, base),
    ]),
  )
}

/**
 * Keys of one kind (channels, messages…), each distinct. A key keeps the characters AsyncAPI's component keys allow
 * (`[A-Za-z0-9._-]`, which message and service names already are); a key taken already gets
 * `-2`, `-3`… in the order the document is built, which is the same every time.
 */
class IdAllocator {
  readonly #taken = new Set<string>()

  take(wanted: string): string {
    const clean = wanted.replace(/[^A-Za-z0-9._-]/g, '_') || '_'
    let id = clean
    for (let n = 2; this.#taken.has(id); n++) id = `${clean}-${n}`
    this.#taken.add(id)
    return id
  }
}

/** A key as a JSON Pointer segment (RFC 6901). */
function pointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1')
}

function relativePath(from: string, to: string): string {
  return relative(from, to).split('\\').join('/')
}
