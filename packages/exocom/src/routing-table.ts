import { isIP } from 'node:net'
import { ErrorCodes, InvalidArgumentError, MAX_SERVICE_NAME_LENGTH } from '@exorelay/core'
import { describeInvalidName, describeValue, RecentMap } from '@exorelay/core/internal'
import {
  DEFAULT_REGISTER_INTERVAL,
  MAX_REGISTER_INTERVAL,
  runPath,
  type ServiceRegistration,
} from '@exorelay/http-protocol'

/** Where ExoCom reaches one service: an entry of `GET /config.json`. */
export interface ExoComService {
  name: string
  host: string
  port: number
  /**
   * The namespace the service knows its own messages under (`text-snippets` for the service
   * `tweets`). Absent when the service uses public names as they are: a registration with
   * `''`, `null` or none.
   */
  internalNamespace?: string
  /** `true` when the service takes batches on `POST /run` (decision 0011); absent otherwise. */
  batches?: boolean
  /** `true` when the service understands error replies (`__error`); absent otherwise. */
  errorReplies?: boolean
  /** Who wrote the entry: an operator's table, or the service registering itself. */
  source: ServiceSource
}

/**
 * `configured`: from `POST /services`, `setServices` or the `services` option; replaced as a
 * whole by the next table. `self-registered`: from `PUT /services/<name>`, which a relay sends
 * every few seconds; it stays until the service withdraws or a table names the service.
 */
export type ServiceSource = 'configured' | 'self-registered'

/** What delivering needs of a service: where it is, and whether it takes batches. */
export type ServiceAddress = Pick<ExoComService, 'name' | 'host' | 'port' | 'batches'>

/** The services that receive one public message name. */
export interface ExoComRoute {
  receivers: ExoComService[]
}

/** ExoCom's routing table in the shape of `GET /config.json`, as the original bus served it. */
export interface ExoComConfig {
  /** Every registered service, by name. */
  services: Record<string, ExoComService>
  /** Every public message name that some service receives, with its receivers. */
  routes: Record<string, ExoComRoute>
}

/** One delivery the bus has to make for a routed message. */
export interface Delivery {
  readonly service: ExoComService
  /** The name as the receiver knows it (its internal namespace applied). */
  readonly internalName: string
  /** Where the receiver is, e.g. `http://127.0.0.1:4001`: one delivery pool per origin. */
  readonly origin: string
  /** The receiver's path for the message: `/run/<url-encoded internal name>`. */
  readonly path: string
}

/** The outcome of routing one message: its public name and where it goes. */
export interface Route {
  /** The name after the sender's internal namespace was translated to the public one. */
  readonly publicName: string
  /** One per receiving service, never two for the same service. Shared: do not modify. */
  readonly deliveries: readonly Delivery[]
}

// Enough for every reply that is still coming in a busy development bus: the last 100,000 ids
// are always remembered (and up to 200,000); older ones can no longer be routed back to their
// requester (only to services that receive the name).
const REMEMBERED_SENDERS = 100_000
// Ids and senders come from the network: the memory of them is bounded in bytes too. Typical
// entries (a UUID and a short name, about 180 bytes) fit well over 100,000 per generation.
const REMEMBERED_BYTES_PER_GENERATION = 32 * 1024 * 1024
// A string's characters at two bytes each, plus the map's entry and the strings' headers.
const rememberedWeight = (id: string, sender: string): number =>
  2 * (id.length + sender.length) + 96

/**
 * Registrations a self-registered service may miss before the bus drops it: one that was
 * killed never withdraws. Its interval is its `registerInterval`, or a relay's default.
 */
export const MISSED_REGISTRATIONS = 3
/**
 * A service is never dropped sooner than this after its last registration: a relay that
 * registers every few milliseconds (in tests) must not flap out of the table whenever its
 * event loop is busy for a moment.
 */
const MIN_SILENCE = 1000

/** How often a service registers: what it stated, or a relay's default. */
export function registerIntervalOf(service: ServiceRegistration): number {
  return service.registerInterval ?? DEFAULT_REGISTER_INTERVAL
}

/** How long a self-registered service may stay silent before the bus drops it. */
export function silenceAllowed(service: ServiceRegistration): number {
  return Math.max(MISSED_REGISTRATIONS * registerIntervalOf(service), MIN_SILENCE)
}

/**
 * The bus's routing table: the registered services, who receives which public name, and the
 * memory of which service sent which message id, so a reply reaches its requester.
 */
export class RoutingTable {
  #services = new Map<string, ServiceRegistration>()
  // The names whose entry came from the service itself rather than from a table, with the
  // time (of `#now`) of their last registration.
  #selfRegistered = new Map<string, number>()
  readonly #now: () => number
  // Built once per change of the table, so that routing a message allocates (almost) nothing:
  // the deliveries of each public name, and each service as the deliverer sees it.
  #deliveries = new Map<string, readonly Delivery[]>()
  #targets = new Map<string, Target>()
  // Which service sent which message id: the last `rememberedSenders` ids, or none for 0.
  readonly #senders: RecentMap<string, string> | undefined

  readonly #maxServices: number
  // What the table lists in all, kept against `MAX_TABLE_NAMES` and `MAX_TABLE_CHARACTERS`.
  #size: TableSize = { names: 0, characters: 0 }

  constructor(
    services: readonly ServiceRegistration[] = [],
    rememberedSenders = REMEMBERED_SENDERS,
    now: () => number = performance.now.bind(performance),
    maxServices = Number.MAX_SAFE_INTEGER,
  ) {
    this.#now = now
    this.#maxServices = maxServices
    this.#senders =
      rememberedSenders === 0
        ? undefined
        : new RecentMap(rememberedSenders, undefined, {
            limit: REMEMBERED_BYTES_PER_GENERATION,
            of: rememberedWeight,
          })
    this.configure(services)
  }

  /**
   * Sets an operator's table (`POST /services`): it replaces every configured entry and every
   * entry of a name it lists. Services that registered themselves, have not missed
   * `MISSED_REGISTRATIONS` registrations, and are not in it stay routed: a live relay would be
   * back on its next registration anyway, and keeping it spares its callers that gap. Returns
   * the names kept that way. The input must have passed `validateServices`. Throws an
   * `InvalidArgumentError`, and changes nothing, when the result would be past a limit.
   */
  configure(services: readonly ServiceRegistration[]): string[] {
    const next = new Map(services.map((service) => [service.name, service]))
    const kept: string[] = []
    const now = this.#now()
    for (const [name, registeredAt] of this.#selfRegistered) {
      if (next.has(name) || !this.#alive(name, registeredAt, now)) continue
      next.set(name, this.#services.get(name)!)
      kept.push(name)
    }
    if (next.size > this.#maxServices) {
      const stay =
        kept.length === 0
          ? ''
          : ` and ${kept.length} that registered themselves stay, ${next.size} in all`
      throw invalid(
        `The table lists ${services.length} services${stay}, more than ExoCom's limit of ${this.#maxServices} (maxServices): list fewer, or start the bus with a higher maxServices.`,
      )
    }
    const size = sizeOfAll(next.values())
    checkSize(size, 'The table')
    for (const name of [...this.#selfRegistered.keys()]) {
      if (!kept.includes(name)) this.#selfRegistered.delete(name)
    }
    this.#size = size
    this.#services = next
    this.#reindex()
    return kept
  }

  /**
   * A service registering itself: adds it, or replaces the entry of the same name. A relay
   * registers again every few seconds: the same registration again only notes the time, and
   * a changed one re-indexes that service alone, so a flood of registrations costs little.
   */
  register(service: ServiceRegistration): 'added' | 'changed' | 'unchanged' {
    const name = service.name
    const previous = this.#services.get(name)
    if (previous === undefined && this.#services.size >= this.#maxServices) {
      throw invalid(
        `ExoCom holds ${this.#maxServices} services already, its limit (maxServices): withdraw one with DELETE /services/<name>, or start the bus with a higher maxServices.`,
      )
    }
    const size = this.#sizeWith(service, previous)
    checkSize(size, `The registration of '${name}'`)
    const wasSelfRegistered = this.#selfRegistered.has(name)
    // Deleted first, so that the map's order stays the order of the last registrations.
    this.#selfRegistered.delete(name)
    this.#selfRegistered.set(name, this.#now())
    if (previous !== undefined && wasSelfRegistered && sameRegistration(previous, service)) {
      return 'unchanged'
    }
    this.#services.set(name, service)
    this.#size = size
    this.#reindexService(name, previous, service)
    return previous === undefined ? 'added' : 'changed'
  }

  /** Withdraws a service; `false` when none had that name. */
  remove(name: string): boolean {
    const previous = this.#services.get(name)
    if (previous === undefined) return false
    this.#services.delete(name)
    this.#selfRegistered.delete(name)
    this.#size = this.#sizeWith(undefined, previous)
    this.#reindexService(name, previous, undefined)
    return true
  }

  /**
   * Drops every self-registered service that has not registered for three of its intervals
   * (`registerInterval`, 5,000 ms when it gave none): a relay that was killed never
   * withdraws. Returns the services dropped.
   */
  expire(): ServiceRegistration[] {
    const now = this.#now()
    const dropped: ServiceRegistration[] = []
    for (const [name, registeredAt] of this.#selfRegistered) {
      if (this.#alive(name, registeredAt, now)) continue
      dropped.push(this.#services.get(name)!)
      this.remove(name)
    }
    return dropped
  }

  /** Whether a self-registered service registered recently enough to be taken as alive. */
  #alive(name: string, registeredAt: number, now: number): boolean {
    return now - registeredAt <= silenceAllowed(this.#services.get(name)!)
  }

  /**
   * Drops the self-registered service `name` when it still is at `origin`, where nothing
   * listened for a request made at `since`, and has not registered since: it comes back when
   * it registers again. A configured one stays (an original relay never registers again by
   * itself). Returns whether it was dropped.
   */
  dropUnreachable(name: string, origin: string, since: number): boolean {
    const target = this.#targets.get(name)
    const registeredAt = this.#selfRegistered.get(name)
    // Registered again after the failed request was made: it restarted, and is alive.
    if (target?.origin !== origin || registeredAt === undefined || registeredAt > since) {
      return false
    }
    return this.remove(name)
  }

  /** The table's size with `previous` replaced by `next` (either may be absent). */
  #sizeWith(next: ServiceRegistration | undefined, previous: ServiceRegistration | undefined) {
    const added = next === undefined ? NO_SIZE : sizeOf(next)
    const removed = previous === undefined ? NO_SIZE : sizeOf(previous)
    return {
      names: this.#size.names + added.names - removed.names,
      characters: this.#size.characters + added.characters - removed.characters,
    }
  }

  has(name: string): boolean {
    return this.#services.has(name)
  }

  get(name: string): ServiceRegistration | undefined {
    return this.#services.get(name)
  }

  /** The registered services, in registration order. */
  services(): ServiceRegistration[] {
    return [...this.#services.values()]
  }

  /**
   * Routes a message sent by `sender` under `name` (as the sender knows it): every service that
   * receives the public name, plus the requester when the message answers one the bus routed.
   * Does not remember the message; call `remember` once it was accepted.
   */
  route(sender: string, name: string, responseTo?: string): Route {
    const senderService = this.#services.get(sender)
    const publicName =
      senderService?.internalNamespace === undefined ? name : toPublicName(name, senderService)
    const deliveries = this.#deliveries.get(publicName) ?? NO_DELIVERIES
    if (responseTo === undefined) return { publicName, deliveries }
    const requester = this.senderOf(responseTo)
    const target = requester === undefined ? undefined : this.#targets.get(requester)
    // A requester that also receives the name is delivered to once.
    if (target === undefined || deliveries.some((d) => d.service === target.service)) {
      return { publicName, deliveries }
    }
    return { publicName, deliveries: this.#withRequester(deliveries, target, publicName) }
  }

  /**
   * Remembers that `sender` sent message `id`, so that replies to it find their way back. The
   * last `rememberedSenders` ids are always remembered, older ones up to twice as many.
   */
  remember(id: string, sender: string): void {
    this.#senders?.set(id, sender)
  }

  /** The service that sent message `id`, while the table still remembers it. */
  senderOf(id: string): string | undefined {
    return this.#senders?.get(id)
  }

  /** The table in the `GET /config.json` shape. */
  config(): ExoComConfig {
    // fromEntries defines own properties, so a name like `__proto__` stays an ordinary key.
    return {
      services: Object.fromEntries(
        [...this.#targets.values()].map((target) => [target.service.name, { ...target.service }]),
      ),
      routes: Object.fromEntries(
        [...this.#deliveries].map(([name, deliveries]) => [
          name,
          { receivers: deliveries.map((delivery) => ({ ...delivery.service })) },
        ]),
      ),
    }
  }

  /**
   * The receivers of `publicName` plus the requester a reply goes back to. Kept per requester
   * and name until the table changes, so that routing a reply allocates nothing; a bounded
   * number of names, so that a sender inventing names cannot grow the bus.
   */
  #withRequester(
    deliveries: readonly Delivery[],
    target: Target,
    publicName: string,
  ): readonly Delivery[] {
    const known = target.replies.get(publicName)
    if (known !== undefined) return known
    const all = Object.freeze([
      ...deliveries,
      deliveryTo(target, toInternalName(publicName, target.registration)),
    ])
    if (target.replies.size < CACHED_REPLY_NAMES) target.replies.set(publicName, all)
    return all
  }

  /**
   * Re-indexes one service that was added (`before` undefined), changed, or withdrawn (`after`
   * undefined): only the names it received or receives get new delivery lists (new arrays:
   * a route handed out before stays as it was). Replies routed through the old entry are
   * forgotten, in every requester's cache.
   */
  #reindexService(
    name: string,
    before: ServiceRegistration | undefined,
    after: ServiceRegistration | undefined,
  ): void {
    if (before !== undefined) {
      for (const publicName of publicNamesReceivedBy(before)) {
        const left = (this.#deliveries.get(publicName) ?? NO_DELIVERIES).filter(
          (delivery) => delivery.service.name !== name,
        )
        if (left.length === 0) this.#deliveries.delete(publicName)
        else this.#deliveries.set(publicName, left)
      }
    }
    if (after === undefined) this.#targets.delete(name)
    else {
      const target = this.#targetOf(after)
      this.#targets.set(name, target)
      for (const publicName of publicNamesReceivedBy(after)) {
        const delivery = deliveryTo(target, toInternalName(publicName, after))
        this.#deliveries.set(publicName, [
          ...(this.#deliveries.get(publicName) ?? NO_DELIVERIES),
          delivery,
        ])
      }
    }
    for (const target of this.#targets.values()) target.replies.clear()
  }

  #targetOf(service: ServiceRegistration): Target {
    const source = this.#selfRegistered.has(service.name) ? 'self-registered' : 'configured'
    const described = describeService(service, source)
    return {
      registration: service,
      service: described,
      origin: originOf(described),
      replies: new Map(),
    }
  }

  #reindex(): void {
    const targets = new Map<string, Target>()
    for (const service of this.#services.values()) {
      targets.set(service.name, this.#targetOf(service))
    }
    const deliveries = new Map<string, Delivery[]>()
    for (const service of this.#services.values()) {
      const target = targets.get(service.name)!
      for (const name of publicNamesReceivedBy(service)) {
        const delivery = deliveryTo(target, toInternalName(name, service))
        const list = deliveries.get(name)
        if (list === undefined) deliveries.set(name, [delivery])
        else list.push(delivery)
      }
    }
    this.#targets = targets
    this.#deliveries = deliveries
  }
}

const NO_DELIVERIES: readonly Delivery[] = Object.freeze([])

/**
 * The public names a service receives: listed as its own service.yml has them, translated;
 * a name listed twice, or in both forms, is received once.
 */
function publicNamesReceivedBy(service: ServiceRegistration): Set<string> {
  return new Set(service.receives.map((listed) => toListedPublicName(listed, service)))
}

/** Whether two registrations of one service route alike (and show alike). */
function sameRegistration(a: ServiceRegistration, b: ServiceRegistration): boolean {
  return (
    a.host === b.host &&
    a.port === b.port &&
    a.internalNamespace === b.internalNamespace &&
    a.batches === b.batches &&
    a.errorReplies === b.errorReplies &&
    a.registerInterval === b.registerInterval &&
    sameNames(a.receives, b.receives) &&
    sameNames(a.sends, b.sends)
  )
}

function sameNames(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  return a.length === b.length && a.every((name, index) => name === b[index])
}
// Reply names whose route is kept per requester: far more than a service answers with.
const CACHED_REPLY_NAMES = 1000

/** A registered service as routing needs it, rebuilt whenever the table changes. */
interface Target {
  readonly registration: ServiceRegistration
  readonly service: ExoComService
  readonly origin: string
  /** Routes of replies to this service (as requester), by public name. */
  readonly replies: Map<string, readonly Delivery[]>
}

function deliveryTo(target: Target, internalName: string): Delivery {
  return {
    service: target.service,
    internalName,
    origin: target.origin,
    path: runPath(internalName),
  }
}

/** `http://<host>:<port>`; an IPv6 literal needs brackets in a URL. */
export function originOf(service: ServiceAddress): string {
  const host = service.host.includes(':') ? `[${service.host}]` : service.host
  return `http://${host}:${service.port}`
}

function describeService(service: ServiceRegistration, source: ServiceSource): ExoComService {
  const described: ExoComService = {
    name: service.name,
    host: service.host,
    port: service.port,
    source,
  }
  if (service.internalNamespace !== undefined) {
    described.internalNamespace = service.internalNamespace
  }
  if (service.batches === true) described.batches = true
  if (service.errorReplies === true) described.errorReplies = true
  return described
}

/**
 * A name a service lists in its `receives` (or `sends`), as its own service.yml has it, in
 * public form, as the original bus translated it: for a service with an internal namespace,
 * the first dotted segment of a listed name stands for the service, so `tweets` (internal
 * namespace `text-snippets`) listing `text-snippet.create` receives `tweets.create`. Names
 * that already start with the service's name, names without a dot, and every name of a
 * service without a namespace stay as they are. Unlike the original, a three-part name keeps
 * its tail (`text-snippet.create.now` is `tweets.create.now`, not `tweets.create`).
 */
export function toListedPublicName(listed: string, service: ServiceRegistration): string {
  const dot = listed.indexOf('.')
  if (service.internalNamespace === undefined || dot === -1) return listed
  if (listed.slice(0, dot) === service.name) return listed
  return `${service.name}${listed.slice(dot)}`
}

/**
 * What a sender calls `<internalNamespace>.created` leaves the bus as `<service name>.created`.
 * Names without a dot, and names outside the sender's internal namespace, pass unchanged.
 */
export function toPublicName(name: string, sender: ServiceRegistration | undefined): string {
  const namespace = sender?.internalNamespace
  if (namespace === undefined || !name.startsWith(`${namespace}.`)) return name
  return `${sender!.name}${name.slice(namespace.length)}`
}

/**
 * The public `tweets.create` reaches a receiver whose internal namespace is `text-snippets` as
 * `text-snippets.create`: the part before the first dot is replaced, as the original bus did.
 * Names without a dot pass unchanged.
 */
export function toInternalName(publicName: string, receiver: ServiceRegistration): string {
  const namespace = receiver.internalNamespace
  const dot = publicName.indexOf('.')
  if (namespace === undefined || dot === -1) return publicName
  return `${namespace}${publicName.slice(dot)}`
}

/**
 * Checks a routing table from the wire or from options and returns a clean copy (known keys
 * only), or throws an `InvalidArgumentError` naming the bad entry and field.
 */
export function validateServices(input: unknown): ServiceRegistration[] {
  if (!Array.isArray(input)) {
    throw invalid(`The service list must be a JSON array of services, got ${describeValue(input)}.`)
  }
  const seen = new Map<string, number>()
  return input.map((entry, index) => {
    const service = validateService(entry, `Service entry ${index}`)
    const earlier = seen.get(service.name)
    if (earlier !== undefined) {
      throw invalid(
        `Service entries ${earlier} and ${index} both have the name '${service.name}': each service must be listed once.`,
      )
    }
    seen.set(service.name, index)
    return service
  })
}

/**
 * Checks one registration and returns a clean copy. `where` starts the error sentence, e.g.
 * `Service entry 2` or `The registration`.
 */
export function validateService(input: unknown, where: string): ServiceRegistration {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw invalid(`${where} must be an object, got ${describeValue(input)}.`)
  }
  const fields = input as Record<string, unknown>
  const name = fields.name
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_SERVICE_NAME_LENGTH) {
    throw invalid(
      `${where} needs a 'name' that is a string of 1 to ${MAX_SERVICE_NAME_LENGTH} characters, got ${describeValue(name)}.`,
    )
  }
  const label = `${where} (${describeValue(name)})`
  const host = fields.host
  if (typeof host !== 'string' || !isHost(host)) {
    throw invalid(
      `${label} needs a 'host' that is a host name or an IP address, got ${describeValue(host)}: give the host alone, without a port, scheme or brackets, e.g. '127.0.0.1', '::1' or 'users.internal'.`,
    )
  }
  const port = fields.port
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalid(
      `${label} needs a 'port' that is an integer from 1 to 65535, got ${describeValue(port)}.`,
    )
  }
  const receives = validateNames(fields.receives, 'receives', label)
  if (receives === undefined) {
    throw invalid(`${label} needs 'receives', an array of message names, got undefined.`)
  }
  const service: ServiceRegistration = { name, host, port, receives }
  const sends = validateNames(fields.sends, 'sends', label)
  if (sends !== undefined) service.sends = sends
  const namespace = fields.internalNamespace
  // No namespace: absent, null (JSON has no undefined), or '' as the original's orchestrator
  // writes it for every service without one.
  if (namespace !== undefined && namespace !== null && namespace !== '') {
    if (
      typeof namespace !== 'string' ||
      namespace.includes('.') ||
      namespace.length > MAX_SERVICE_NAME_LENGTH
    ) {
      throw invalid(
        `${label} has an 'internalNamespace' that is neither a name without dots of at most ${MAX_SERVICE_NAME_LENGTH} characters nor empty ('', null or absent for none), got ${describeValue(namespace)}.`,
      )
    }
    service.internalNamespace = namespace
  }
  const interval = fields.registerInterval
  if (interval !== undefined) {
    if (
      typeof interval !== 'number' ||
      !Number.isInteger(interval) ||
      interval < 1 ||
      interval > MAX_REGISTER_INTERVAL
    ) {
      throw invalid(
        `${label} has a 'registerInterval' that is not a whole number of milliseconds from 1 to ${MAX_REGISTER_INTERVAL}, got ${describeValue(interval)}.`,
      )
    }
    service.registerInterval = interval
  }
  for (const flag of ['batches', 'errorReplies'] as const) {
    const value = fields[flag]
    if (value === undefined) continue
    if (typeof value !== 'boolean') {
      throw invalid(`${label} has a '${flag}' that is not a boolean, got ${describeValue(value)}.`)
    }
    service[flag] = value
  }
  return service
}

function validateNames(value: unknown, field: string, label: string): string[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value)) {
    throw invalid(
      `${label} has a '${field}' that is not an array of message names, got ${describeValue(value)}.`,
    )
  }
  if (value.length > MAX_NAMES_PER_SERVICE) {
    throw invalid(
      `${label} lists ${value.length} names in '${field}', more than the ${MAX_NAMES_PER_SERVICE} a service may list.`,
    )
  }
  return value.map((name, index) => {
    const problem = describeInvalidName(name)
    if (problem !== undefined) {
      throw invalid(
        `${label} has a '${field}' entry ${index} that is not a message name: it ${problem}.`,
      )
    }
    return name as string
  })
}

/** Names a service may list in `receives`, and again in `sends`. */
export const MAX_NAMES_PER_SERVICE = 1000
/**
 * Names all services together may list, and their characters (each name with its service's
 * internal namespace, name and host, as each route of `GET /config.json` repeats them): what
 * the table, its routes and `GET /config.json` hold stays within megabytes, whatever clients
 * register.
 */
export const MAX_TABLE_NAMES = 100_000
export const MAX_TABLE_CHARACTERS = 4_000_000

/** What a table lists: names, and their characters. */
interface TableSize {
  readonly names: number
  readonly characters: number
}

const NO_SIZE: TableSize = { names: 0, characters: 0 }

function sizeOf(service: ServiceRegistration): TableSize {
  // What each listed name brings along: its internal form, and the receiver as a route shows it.
  const perName =
    (service.internalNamespace?.length ?? 0) + service.name.length + service.host.length
  let names = 0
  let characters = 0
  for (const list of [service.receives, service.sends ?? []]) {
    names += list.length
    for (const name of list) characters += name.length + perName
  }
  return { names, characters }
}

function sizeOfAll(services: Iterable<ServiceRegistration>): TableSize {
  let names = 0
  let characters = 0
  for (const service of services) {
    const size = sizeOf(service)
    names += size.names
    characters += size.characters
  }
  return { names, characters }
}

function checkSize(size: TableSize, what: string): void {
  if (size.names <= MAX_TABLE_NAMES && size.characters <= MAX_TABLE_CHARACTERS) return
  throw invalid(
    `${what} would make the routing table list ${size.names} names of ${size.characters} characters in all, more than ExoCom's limit of ${MAX_TABLE_NAMES} names and ${MAX_TABLE_CHARACTERS} characters: list fewer or shorter names.`,
  )
}

// A DNS name (labels of letters, digits, `-`, and `_` as container names have them), or an
// IP literal: what the bus can put in a URL without it meaning something else.
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$/

/**
 * A host name or an IP address, nothing else: no port, scheme, brackets, spaces or CR/LF, and
 * one that a URL keeps as it is. `999.1.1.1` is no address, `1.2.3` would reach 1.2.0.3 and
 * `0x7f.1` 127.0.0.1, and an IPv6 zone (`fe80::1%eth0`) cannot be written in a URL.
 */
function isHost(host: string): boolean {
  const ip = isIP(host)
  if (ip === 4) return true
  if (ip === 6) return !host.includes('%')
  if (!HOST_NAME.test(host)) return false
  try {
    return new URL(`http://${host}/`).hostname === host.toLowerCase()
  } catch {
    return false
  }
}

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError(ErrorCodes.INVALID_OPTION, message)
}
