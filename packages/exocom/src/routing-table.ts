import { ErrorCodes, InvalidArgumentError } from '@exorelay/core'
import { describeInvalidName, describeValue, RecentMap } from '@exorelay/core/internal'
import { runPath, type ServiceRegistration } from '@exorelay/http-protocol'

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

/**
 * How recently a service must have registered itself for a new table to keep it: three of
 * the 5-second intervals a relay registers again by default. One that crashed without
 * withdrawing is dropped by the next table.
 */
export const SELF_REGISTRATION_KEPT_FOR = 15_000

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

  constructor(
    services: readonly ServiceRegistration[] = [],
    rememberedSenders = REMEMBERED_SENDERS,
    now: () => number = performance.now.bind(performance),
  ) {
    this.#now = now
    this.#senders = rememberedSenders === 0 ? undefined : new RecentMap(rememberedSenders)
    this.configure(services)
  }

  /**
   * Sets an operator's table (`POST /services`): it replaces every configured entry and every
   * entry of a name it lists. Services that registered themselves within the last
   * `SELF_REGISTRATION_KEPT_FOR` ms and are not in it stay routed: a live relay would be back
   * on its next registration anyway, and keeping it spares its callers that gap. Returns the
   * names kept that way. The input must have passed `validateServices`.
   */
  configure(services: readonly ServiceRegistration[]): string[] {
    const next = new Map(services.map((service) => [service.name, service]))
    const kept: string[] = []
    const now = this.#now()
    for (const [name, registeredAt] of this.#selfRegistered) {
      if (next.has(name) || now - registeredAt > SELF_REGISTRATION_KEPT_FOR) {
        this.#selfRegistered.delete(name)
      } else {
        next.set(name, this.#services.get(name)!)
        kept.push(name)
      }
    }
    this.#services = next
    this.#reindex()
    return kept
  }

  /** A service registering itself: adds it, or replaces the entry of the same name. */
  register(service: ServiceRegistration): void {
    this.#services.set(service.name, service)
    // Deleted first, so that the map's order stays the order of the last registrations.
    this.#selfRegistered.delete(service.name)
    this.#selfRegistered.set(service.name, this.#now())
    this.#reindex()
  }

  /** Withdraws a service; `false` when none had that name. */
  remove(name: string): boolean {
    const removed = this.#services.delete(name)
    this.#selfRegistered.delete(name)
    if (removed) this.#reindex()
    return removed
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

  #reindex(): void {
    const targets = new Map<string, Target>()
    for (const service of this.#services.values()) {
      const source = this.#selfRegistered.has(service.name) ? 'self-registered' : 'configured'
      const described = describeService(service, source)
      targets.set(service.name, {
        registration: service,
        service: described,
        origin: originOf(described),
        replies: new Map(),
      })
    }
    const deliveries = new Map<string, Delivery[]>()
    for (const service of this.#services.values()) {
      const target = targets.get(service.name)!
      // Listed as the service's own service.yml has them, translated to public names; a name
      // listed twice, or in both forms, is still received once.
      const names = new Set(service.receives.map((listed) => toListedPublicName(listed, service)))
      for (const name of names) {
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
  if (typeof name !== 'string' || name.length === 0) {
    throw invalid(`${where} needs a 'name' that is a non-empty string, got ${describeValue(name)}.`)
  }
  const label = `${where} ('${name}')`
  const host = fields.host
  if (typeof host !== 'string' || host.length === 0) {
    throw invalid(`${label} needs a 'host' that is a non-empty string, got ${describeValue(host)}.`)
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
    if (typeof namespace !== 'string' || namespace.includes('.')) {
      throw invalid(
        `${label} has an 'internalNamespace' that is neither a name without dots nor empty ('', null or absent for none), got ${describeValue(namespace)}.`,
      )
    }
    service.internalNamespace = namespace
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

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError(ErrorCodes.INVALID_OPTION, message)
}
