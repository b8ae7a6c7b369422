import { dirname, relative } from 'node:path'
import { comparableJsonSchema, compareCodePoints, sameJson } from './json-schema.js'
import type {
  ContractMessage,
  ContractService,
  ExportedSchema,
  LandscapeContracts,
} from './landscape-contracts.js'

// The landscape check (`exoservice check`, and `exoservice landscape` before it starts anything):
// what the services' service.yml files and contracts say about each other, without running them.

/** What kind of finding: see {@link checkLandscape}. */
export type FindingCode =
  | 'no-receiver'
  | 'no-sender'
  | 'schema-mismatch'
  | 'not-comparable'
  | 'not-in-contract'

/** One thing the check found: a message, the services it concerns, and one line saying what. */
export interface Finding {
  code: FindingCode
  /** The message the finding is about. */
  messageName: string
  /** The services it concerns: the sender first, then the receiver, where there are two. */
  services: readonly string[]
  /** What is wrong, in one line, naming the contract modules it compares. */
  text: string
}

/**
 * Checks a landscape's messages and contracts, without running anything:
 *
 * - `no-receiver`: a service sends a message no service receives, and it cannot be a reply: it is
 *   no outcome a contract lists for a message the service receives. (When a message the service
 *   receives is in no contract, its replies are unknown, and what it sends is not reported.)
 * - `no-sender`: a service receives a message no service sends, and it is no outcome a contract
 *   lists for a message the service sends (a reply to its own request may be listed under
 *   `receives`, as Exosphere's service.yml files did).
 * - `schema-mismatch`: a sender and a receiver of a message both have contracts that define it,
 *   from different modules, and their JSON Schemas differ: the payload's, or a reply outcome's.
 * - `not-comparable`: as for `schema-mismatch`, but a side's schema has no JSON Schema.
 * - `not-in-contract`: a service with a contract sends or receives a message its contract does
 *   not define (an outcome counts when its contract lists it under `replies`: one it sends, of a
 *   message the service receives; one it receives, of a message the service sends). The AsyncAPI
 *   document follows the same rule.
 *
 * Findings come sorted by message name, then in the order above.
 *
 * @example
 * ```ts
 * import { checkLandscape, formatFindings, loadLandscapeContracts, readApplicationFile } from 'exoservice'
 *
 * const landscape = await loadLandscapeContracts(await readApplicationFile('application.yml'))
 * const findings = checkLandscape(landscape)
 * console.log(formatFindings(findings, landscape.services.length))
 * ```
 */
export function checkLandscape(landscape: LandscapeContracts): Finding[] {
  const findings: Finding[] = []
  const folder = dirname(landscape.file)
  const moduleOf = (service: ContractService): string =>
    service.contract === undefined ? '' : relative(folder, service.contract.module)
  const receivers = (name: string) =>
    landscape.services.filter((service) => service.receives.includes(name))
  const senders = (name: string) =>
    landscape.services.filter((service) => service.sends.includes(name))
  const definitions = (name: string) =>
    landscape.services.flatMap((service) => service.contract?.messages.get(name) ?? [])

  // The reply outcomes that contracts list for requests among `names`.
  const outcomesOf = (names: readonly string[]) =>
    new Set(
      names.flatMap((name) => definitions(name).flatMap((message) => [...message.replies.keys()])),
    )

  for (const service of landscape.services) {
    // A reply to its own request may be listed under receives (Exosphere's service.yml did):
    // whoever answers sends it, not reported as sent by nobody.
    const repliesItGets = outcomesOf(service.sends)
    for (const name of service.receives) {
      if (senders(name).length === 0 && !repliesItGets.has(name)) {
        findings.push({
          code: 'no-sender',
          messageName: name,
          services: [service.name],
          text: `${service.name} receives it, but no service sends it`,
        })
      }
    }
    // What the service may send as replies, and whether that is all it may.
    const outcomes = outcomesOf(service.receives)
    const repliesKnown = service.receives.every((name) => definitions(name).length > 0)
    for (const name of service.sends) {
      if (receivers(name).length === 0 && repliesKnown && !outcomes.has(name)) {
        findings.push({
          code: 'no-receiver',
          messageName: name,
          services: [service.name],
          text: `${service.name} sends it, but no service receives it${service.receives.length === 0 ? '' : ', and no contract lists it as a reply of what it receives'}`,
        })
      }
    }

    const contract = service.contract
    if (contract === undefined) continue
    // The outcomes its own contract lists: replies it sends to what it receives, and replies it
    // gets to what it sends (listed under receives or not).
    const own = (names: readonly string[]) =>
      new Set(names.flatMap((name) => [...(contract.messages.get(name)?.replies.keys() ?? [])]))
    const lacking = [
      ...service.receives.map((name) => ({
        name,
        does: 'receives',
        of: service.sends,
        what: 'sends',
      })),
      ...service.sends.map((name) => ({
        name,
        does: 'sends',
        of: service.receives,
        what: 'receives',
      })),
    ].filter(({ name, of }) => !contract.messages.has(name) && !own(of).has(name))
    for (const { name, does, what } of lacking) {
      findings.push({
        code: 'not-in-contract',
        messageName: name,
        services: [service.name],
        text: `${service.name} ${does} it, but its contract ${moduleOf(service)} does not define it (nor lists it under replies of a message it ${what})`,
      })
    }
  }

  // Each sender and receiver of a message whose contracts, from different modules, define it.
  const names = [...new Set(landscape.services.flatMap(({ sends }) => sends))]
  for (const name of names) {
    for (const sender of senders(name)) {
      for (const receiver of receivers(name)) {
        const sent = sender.contract?.messages.get(name)
        const received = receiver.contract?.messages.get(name)
        if (sent === undefined || received === undefined) continue
        if (sender.contract?.module === receiver.contract?.module) continue
        const sides: Sides = [moduleOf(sender), moduleOf(receiver)]
        for (const { code, text } of compare(sent, received, sides)) {
          findings.push({ code, messageName: name, services: [sender.name, receiver.name], text })
        }
      }
    }
  }

  const order: readonly FindingCode[] = [
    'no-receiver',
    'no-sender',
    'schema-mismatch',
    'not-comparable',
    'not-in-contract',
  ]
  return findings.sort(
    (a, b) =>
      compareCodePoints(a.messageName, b.messageName) ||
      order.indexOf(a.code) - order.indexOf(b.code),
  )
}

/** The contract modules of a sender and a receiver, as the findings name them. */
type Sides = readonly [string, string]

/** Where two contracts of one message differ, or cannot be compared: a finding's code and text. */
function compare(
  sent: ContractMessage,
  received: ContractMessage,
  [sender, receiver]: Sides,
): { code: FindingCode; text: string }[] {
  const parts: { code: FindingCode; text: string }[] = []
  const add = (part: string, a: ExportedSchema | undefined, b: ExportedSchema | undefined) => {
    if (a === undefined || b === undefined) {
      if (a !== b) {
        const [none, one] = a === undefined ? [sender, receiver] : [receiver, sender]
        parts.push({
          code: 'schema-mismatch',
          text: `${part} differs: ${one} gives one, ${none} none`,
        })
      }
      return
    }
    if (!('jsonSchema' in a) || !('jsonSchema' in b)) {
      const notes = [
        ...('note' in a ? [`${sender}: ${a.note}`] : []),
        ...('note' in b ? [`${receiver}: ${b.note}`] : []),
      ]
      parts.push({ code: 'not-comparable', text: `${part} not compared: ${notes.join(' ')}` })
      return
    }
    const difference = firstDifference(
      comparableJsonSchema(a.jsonSchema),
      comparableJsonSchema(b.jsonSchema),
      '',
    )
    if (difference !== undefined) {
      const at = difference.path === '' ? '' : ` at ${difference.path}`
      parts.push({
        code: 'schema-mismatch',
        text: `${part} differs${at}: ${shortJson(difference.a)} in ${sender}, ${shortJson(difference.b)} in ${receiver}`,
      })
    }
  }
  add('payload', sent.payload, received.payload)
  const outcomes = [...new Set([...sent.replies.keys(), ...received.replies.keys()])].sort()
  for (const outcome of outcomes) {
    add(`outcome '${outcome}'`, sent.replies.get(outcome), received.replies.get(outcome))
  }
  return parts
}

/**
 * The first place (by sorted keys) where two JSON values differ, and what each has there. Given
 * schemas in `comparableJsonSchema`'s form, so that what it prints is what was compared.
 */
function firstDifference(
  a: unknown,
  b: unknown,
  path: string,
): { path: string; a: unknown; b: unknown } | undefined {
  if (sameJson(a, b)) return undefined
  const bothObjects = a !== null && b !== null && typeof a === 'object' && typeof b === 'object'
  if (bothObjects && Array.isArray(a) === Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()
    for (const key of keys) {
      const found = firstDifference(
        (a as Record<string, unknown>)[key],
        (b as Record<string, unknown>)[key],
        path === '' ? key : `${path}.${key}`,
      )
      if (found !== undefined) return found
    }
  }
  return { path, a, b }
}

/** A JSON value in at most 40 characters, for a finding's line. */
function shortJson(value: unknown): string {
  const text = value === undefined ? 'nothing' : JSON.stringify(value)
  return text.length > 40 ? `${text.slice(0, 39)}…` : text
}

/**
 * The findings as the terminal shows them: one aligned line each (message, services, what), then
 * a summary line: `3 findings in 4 services`, or `no findings in 4 services`.
 */
export function formatFindings(findings: readonly Finding[], serviceCount: number): string {
  const arrow = (finding: Finding) => finding.services.join(' → ')
  const nameWidth = Math.max(0, ...findings.map(({ messageName }) => messageName.length))
  const servicesWidth = Math.max(0, ...findings.map((finding) => arrow(finding).length))
  const lines = findings.map(
    (finding) =>
      `${finding.messageName.padEnd(nameWidth)}  ${arrow(finding).padEnd(servicesWidth)}  ${finding.code}: ${finding.text}`,
  )
  const count =
    findings.length === 0
      ? 'no findings'
      : `${findings.length} finding${findings.length === 1 ? '' : 's'}`
  lines.push(`${count} in ${serviceCount} service${serviceCount === 1 ? '' : 's'}`)
  return `${lines.join('\n')}\n`
}
