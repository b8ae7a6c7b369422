import { isIP } from 'node:net'
import {
  ErrorCodes,
  InvalidArgumentError,
  MAX_INSTANCE_LENGTH,
  MAX_SERVICE_NAME_LENGTH,
} from '@exorelay/core'
import {
  CANCEL,
  describeInvalidName,
  describeValue,
  isInstanceId,
  RecentMap,
} from '@exorelay/core/internal'
import {
  DEFAULT_REGISTER_INTERVAL,
  MAX_REGISTER_INTERVAL,
  runPath,
  type ServiceRegistration,
} from '@exorelay/http-protocol'

/** Where ExoCom reaches one instance of a service. */
export interface ExoComInstance {
  /**
   * The id the instance registered with: each relay makes one (decision 0017).
   * Absent for an entry without one (an operator's table, an original relay), which is known
   * by its address.
   */
  instance?: string
  host: string
  port: number
  /**
   * The namespace the service knows its own messages under (`text-snippets` for the service
   * `tweets`). Absent when the service uses public names as they are: a registration with
   * `''`, `null` or none.
   */
  internalNamespace?: string
  /** `true` when the instance takes batches on `POST /run` (decision 0011); absent otherwise. */
  batches?: boolean
  /** `true` when the instance understands error replies (`__error`); absent otherwise. */
  errorReplies?: boolean
  /** `true` when the instance understands cancellations (`__cancel`); absent otherwise. */
  cancels?: boolean
  /** Who wrote the entry: an operator's table, or the instance registering itself. */
  source: ServiceSource
}

/**
 * A service of `GET /config.json`: the fields of its first instance, as the original bus
 * showed a service, and all of its instances.
 */
export interface ExoComService extends ExoComInstance {
  name: string
  /**
   * Every instance, in the order they registered; the fields above are the first one's. Each
   * message to the service goes to one of them, in turn (decision 0017).
   */
  instances: ExoComInstance[]
}

/**
 * `configured`: from `POST /services`, `setServices` or the `services` option; replaced as a
 * whole by the next table. `self-registered`: from `PUT /services/<name>`, which a relay sends
 * every few seconds; it stays until the instance withdraws, misses its registrations, or a
 * table names its service.
 */
export type ServiceSource = 'configured' | 'self-registered'

/** One instance of a service as a delivery to it needs it. */
export interface Receiver extends ExoComInstance {
  readonly name: string
}

/** What delivering needs of an instance: where it is, and whether it takes batches. */
export type ServiceAddress = Pick<Receiver, 'name' | 'host' | 'port' | 'batches'>

/** The services that receive one public message name. */
export interface ExoComRoute {
  /** One entry per service; its `instances` are those that receive the name. */
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
  /** The instance it goes to. */
  readonly service: Receiver
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
  /**
   * One per receiving service (to one of its instances), never two for the same service.
   * May be shared: do not modify.
   */
  readonly deliveries: readonly Delivery[]
}

// Enough for every reply that is still coming in a busy development bus: the last 100,000 ids
// are always remembered (and up to 200,000); older ones can no longer be routed back to their
// requester (only to services that receive the name).
const REMEMBERED_SENDERS = 100_000
// Ids and senders come from the network: the memory of them is bounded in bytes too. Typical
// entries (a UUID, a short name and an instance id, about 250 bytes) fit well over 100,000 per
// generation.
const REMEMBERED_BYTES_PER_GENERATION = 32 * 1024 * 1024
// A string's characters at two bytes each, plus the map's entry, the strings' and the object's
// headers, and a pointer per delivery a request went to.
const rememberedWeight = (id: string, requester: Requester): number =>
  typeof requester === 'string'
    ? 2 * (id.length + requester.length) + 96
    : 2 * (id.length + requester.sender.length + (requester.instance?.length ?? 0)) +
      144 +
      8 * (requester.takenBy?.length ?? 0)

/**
 * Who sent a message (a service, and its instance when the message named one) and, for a
 * request, where it went: one entry per message id, so that routing a request costs one write.
 */
type Requester =
  | string
  | {
      readonly sender: string
      readonly instance?: string | undefined
      /** The deliveries of a request (it had a deadline): its cancellation goes there. */
      readonly takenBy?: readonly Delivery[] | undefined
    }

/**
 * Registrations a self-registered instance may miss before the bus drops it: one that was
 * killed never withdraws. Its interval is its `registerInterval`, or a relay's default.
 */
export const MISSED_REGISTRATIONS = 3
/**
 * An instance is never dropped sooner than this after its last registration: a relay that
 * registers every few milliseconds (in tests) must not flap out of the table whenever its
 * event loop is busy for a moment.
 */
const MIN_SILENCE = 1000

/** How often a service registers: what it stated, or a relay's default. */
export function registerIntervalOf(service: ServiceRegistration): number {
  return service.registerInterval ?? DEFAULT_REGISTER_INTERVAL
}

/** How long a self-registered instance may stay silent before the bus drops it. */
export function silenceAllowed(service: ServiceRegistration): number {
  return Math.max(MISSED_REGISTRATIONS * registerIntervalOf(service), MIN_SILENCE)
}

/** Options of a {@link RoutingTable}; each has a default. */
export interface RoutingTableOptions {
  /** Message ids whose sender is always remembered (up to twice as many). Default 100,000. */
  readonly rememberedSenders?: number
  /** The clock of registrations and their expiry. Default `performance.now()`. */
  readonly now?: () => number
  /** Instances the table holds at most, over all services. Default: no limit. */
  readonly maxServices?: number
  /** Instances one service may have. Default: no limit. */
  readonly maxInstances?: number
}

/**
 * The bus's routing table: the registered services and their instances, who receives which
 * public name, and the memory of which instance sent which message id, so a reply reaches
 * the instance that waits for it.
 */
export class RoutingTable {
  // Each service's instances by key (its instance id, or else its address), in the order they
  // registered. Maps are replaced, never changed, so a list handed out stays as it was.
  #services = new Map<string, ReadonlyMap<string, Instance>>()
  #instanceCount = 0
  readonly #now: () => number
  // Built per change of a service, so that routing a message allocates (almost) nothing: the
  // receivers of each public name, one group of instances per service.
  #receivers = new Map<string, Receivers>()
  // Which service (and instance) sent which message id: the last `rememberedSenders` ids, or
  // none for 0.
  readonly #senders: RecentMap<string, Requester> | undefined

  readonly #maxServices: number
  /**
   * Instances that withdrew themselves (a relay closing), by service and instance id, with
   * when they stop taking replies: a closing relay lets its running handlers finish, and a
   * handler that awaits another service needs the reply routed back (decision 0008). They
   * receive nothing else. Bounded in time (as long as a silent instance would be kept) and in
   * number (`maxServices`).
   */
  readonly #closing = new Map<string, { readonly instance: Instance; readonly until: number }>()
  readonly #maxInstances: number
  // What the table lists in all, kept against `MAX_TABLE_NAMES` and `MAX_TABLE_CHARACTERS`.
  #size: TableSize = NO_SIZE

  constructor(services: readonly ServiceRegistration[] = [], options: RoutingTableOptions = {}) {
    const rememberedSenders = options.rememberedSenders ?? REMEMBERED_SENDERS
    this.#now = options.now ?? performance.now.bind(performance)
    this.#maxServices = options.maxServices ?? Number.MAX_SAFE_INTEGER
    this.#maxInstances = options.maxInstances ?? Number.MAX_SAFE_INTEGER
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
   * instance of a service it lists. Instances that registered themselves, have not missed
   * `MISSED_REGISTRATIONS` registrations, and whose service it does not list stay routed: a
   * live relay would be back on its next registration anyway, and keeping it spares its
   * callers that gap. Returns the names of the services kept that way. The input must have
   * passed `validateServices`. Throws an `InvalidArgumentError`, and changes nothing, when the
   * result would be past a limit.
   */
  configure(services: readonly ServiceRegistration[]): string[] {
    const next = new Map<string, ReadonlyMap<string, Instance>>()
    for (const service of services) {
      const instance = this.#instance(service, undefined)
      next.set(service.name, new Map([[instance.key, instance]]))
    }
    const kept: string[] = []
    let count = services.length
    const now = this.#now()
    for (const [name, instances] of this.#services) {
      if (next.has(name)) continue
      const alive = [...instances.values()].filter((instance) => this.#alive(instance, now))
      if (alive.length === 0) continue
      next.set(name, new Map(alive.map((instance) => [instance.key, instance])))
      kept.push(name)
      count += alive.length
    }
    if (count > this.#maxServices) {
      const stay =
        kept.length === 0
          ? ''
          : ` and ${count - services.length} instances that registered themselves stay, ${count} in all`
      throw invalid(
        `The table lists ${services.length} services${stay}, more than ExoCom's limit of ${this.#maxServices} (maxServices): list fewer, or start the bus with a higher maxServices.`,
      )
    }
    const size = sizeOfAll(registrationsOf(next))
    checkSize(size, 'The table')
    this.#size = size
    this.#instanceCount = count
    this.#services = next
    this.#receivers = new Map()
    for (const [name, instances] of next) this.#reindexService(name, [], [...instances.values()])
    // The instances kept are the same objects: the reply routes they cached name the old table.
    this.#forgetReplyRoutes()
    return kept
  }

  /**
   * An instance registering itself: adds it, or replaces the entry with the same key (its
   * `instance` id, or else its address). It also replaces the operator's entries of its
   * service (the service speaks for itself now) and an instance of it at the same address
   * (an earlier run of it: two processes do not listen on one address). A relay registers
   * again every few seconds: the same registration again only notes the time, and a changed
   * one re-indexes that service alone, so a flood of registrations costs little.
   */
  register(service: ServiceRegistration): 'added' | 'changed' | 'unchanged' {
    const name = service.name
    const key = instanceKey(service)
    const now = this.#now()
    if (service.instance !== undefined) this.#closing.delete(closingKey(name, service.instance))
    const current = this.#services.get(name) ?? NO_INSTANCES
    const previous = current.get(key)
    if (previous?.registeredAt !== undefined && sameRegistration(previous.registration, service)) {
      previous.registeredAt = now
      return 'unchanged'
    }
    const origin = originOf(service)
    const replaced = [...current.values()].filter(
      (instance) =>
        instance.key === key || instance.registeredAt === undefined || instance.origin === origin,
    )
    const count = this.#instanceCount - replaced.length + 1
    // One service must not take every place of the table: each new instance is counted
    // against its own service first.
    const own = current.size - replaced.length + 1
    if (own > this.#maxInstances) {
      throw invalid(
        `The service '${name}' has ${this.#maxInstances} instances already, its limit (maxInstances): withdraw one with DELETE /services/<name>?instance=<id>, or start the bus with a higher maxInstances.`,
      )
    }
    if (count > this.#maxServices) {
      throw invalid(
        `ExoCom holds ${this.#maxServices} services already (each instance counts), its limit (maxServices): withdraw one with DELETE /services/<name>, or start the bus with a higher maxServices.`,
      )
    }
    const size = this.#sizeWith([service], replaced)
    checkSize(size, `The registration of '${name}'`)
    const next = new Map(current)
    for (const instance of replaced) if (instance.key !== key) next.delete(instance.key)
    // Set on a key it has keeps the instance's place: the first instance stays the first.
    next.set(key, this.#instance(service, now))
    this.#commit(name, current, next, count, size)
    return previous === undefined ? 'added' : 'changed'
  }

  /**
   * Withdraws the instance of `name` that registered with the id `instance`, or, without one,
   * every instance of `name`. Returns the registrations withdrawn (none when nothing matched).
   */
  remove(name: string, instance?: string): ServiceRegistration[] {
    const current = this.#services.get(name)
    if (current === undefined) return []
    if (instance === undefined) return this.#drop(name, current, [...current.values()])
    const found = current.get(instance)
    if (found === undefined) return []
    if (found.registeredAt !== undefined) {
      this.#closing.set(closingKey(name, instance), {
        instance: found,
        until: this.#now() + silenceAllowed(found.registration),
      })
      // The oldest first: Map keeps insertion order.
      for (const key of this.#closing.keys()) {
        if (this.#closing.size <= this.#maxServices) break
        this.#closing.delete(key)
      }
    }
    return this.#drop(name, current, [found])
  }

  /**
   * Drops every self-registered instance that has not registered for three of its intervals
   * (`registerInterval`, 5,000 ms when it gave none): a relay that was killed never
   * withdraws. Returns the registrations dropped.
   */
  expire(): ServiceRegistration[] {
    const now = this.#now()
    for (const [key, closing] of this.#closing) {
      if (closing.until < now) this.#closing.delete(key)
    }
    const dropped: ServiceRegistration[] = []
    for (const [name, instances] of this.#services) {
      const silent = [...instances.values()].filter(
        (instance) => instance.registeredAt !== undefined && !this.#alive(instance, now),
      )
      if (silent.length > 0) dropped.push(...this.#drop(name, instances, silent))
    }
    return dropped
  }

  /**
   * Drops the self-registered instances of `name` at `origin`, where nothing listened for a
   * request made at `since`, that have not registered since: they come back when they
   * register again. Configured ones stay (an original relay never registers again by itself).
   * Returns whether one was dropped.
   */
  dropUnreachable(name: string, origin: string, since: number): boolean {
    const current = this.#services.get(name)
    if (current === undefined) return false
    // Registered again after the failed request was made: it restarted, and is alive.
    const gone = [...current.values()].filter(
      (instance) =>
        instance.origin === origin &&
        instance.registeredAt !== undefined &&
        instance.registeredAt <= since,
    )
    return this.#drop(name, current, gone).length > 0
  }

  /**
   * Another instance of the receiver of `delivery` for `publicName`, the next in turn, after
   * `delivery`'s own was dropped: a message that never reached a dead instance goes to a live
   * one. `undefined` when the service has none left.
   */
  alternative(delivery: Delivery, publicName: string): Delivery | undefined {
    const group = this.#receivers
      .get(publicName)
      ?.groups.find((candidate) => candidate.service === delivery.service.name)
    if (group === undefined) return undefined
    const next = nextOf(group)
    return next.origin === delivery.origin ? undefined : next
  }

  /** Whether the instance `delivery` goes to is still in the table, at its address. */
  holds(delivery: Delivery): boolean {
    return this.#atAddress(delivery) !== undefined
  }

  /** The instance of `delivery`'s service registered at its address now, if any. */
  #atAddress(delivery: Delivery): Instance | undefined {
    const instances = this.#services.get(delivery.service.name)
    if (instances === undefined) return undefined
    for (const instance of instances.values()) {
      if (instance.origin === delivery.origin) return instance
    }
    return undefined
  }

  /** Whether a self-registered instance registered recently enough to be taken as alive. */
  #alive(instance: Instance, now: number): boolean {
    return (
      instance.registeredAt !== undefined &&
      now - instance.registeredAt <= silenceAllowed(instance.registration)
    )
  }

  #drop(
    name: string,
    current: ReadonlyMap<string, Instance>,
    gone: readonly Instance[],
  ): ServiceRegistration[] {
    if (gone.length === 0) return []
    const next = new Map(current)
    for (const instance of gone) next.delete(instance.key)
    const size = this.#sizeWith([], gone)
    this.#commit(name, current, next, this.#instanceCount - gone.length, size)
    return gone.map((instance) => instance.registration)
  }

  /** Puts the new instances of one service in place, and re-indexes it alone. */
  #commit(
    name: string,
    before: ReadonlyMap<string, Instance>,
    after: ReadonlyMap<string, Instance>,
    count: number,
    size: TableSize,
  ): void {
    if (after.size === 0) this.#services.delete(name)
    else this.#services.set(name, after)
    this.#instanceCount = count
    this.#size = size
    this.#reindexService(name, [...before.values()], [...after.values()])
    this.#forgetReplyRoutes()
  }

  /** Replies routed through old entries are forgotten, in every requester's cache. */
  #forgetReplyRoutes(): void {
    for (const instances of this.#services.values()) {
      for (const instance of instances.values()) instance.replies.clear()
    }
    for (const { instance } of this.#closing.values()) instance.replies.clear()
  }

  /** The table's size with `added` registrations in and the `removed` instances out. */
  #sizeWith(added: readonly ServiceRegistration[], removed: readonly Instance[]): TableSize {
    const more = sizeOfAll(added)
    const less = sizeOfAll(removed.map((instance) => instance.registration))
    return {
      names: this.#size.names + more.names - less.names,
      characters: this.#size.characters + more.characters - less.characters,
    }
  }

  has(name: string): boolean {
    return this.#services.has(name)
  }

  /** The registration of the first instance of `name`. */
  get(name: string): ServiceRegistration | undefined {
    return firstOf(this.#services.get(name))?.registration
  }

  /** How many instances of `name` the table holds. */
  instancesOf(name: string): number {
    return this.#services.get(name)?.size ?? 0
  }

  /** The registration of every instance, in registration order. */
  registrations(): ServiceRegistration[] {
    return registrationsOf(this.#services)
  }

  /** Whether the instance that sent a message (see `remember`) understands error replies. */
  understandsErrorReplies(sender: string, instance: string | undefined): boolean {
    return this.#describing(sender, instance)?.errorReplies === true
  }

  /**
   * Routes a message sent by `sender` (its instance `instance`, when the message named one)
   * under `name` (as the sender knows it): to one instance, in turn, of every service that
   * receives the public name, plus the instance that asked when the message answers one the
   * bus routed. Does not remember the message; call `remember` once it was accepted.
   */
  route(sender: string, name: string, responseTo?: string, instance?: string): Route {
    const from = this.#describing(sender, instance)
    const publicName = from?.internalNamespace === undefined ? name : toPublicName(name, from)
    const receivers = this.#receivers.get(publicName)
    const deliveries =
      receivers === undefined ? NO_DELIVERIES : (receivers.single ?? pick(receivers.groups))
    if (responseTo === undefined) return { publicName, deliveries }
    const requester = this.#requesterOf(responseTo)
    if (requester === undefined) return { publicName, deliveries }
    // A requester that also receives the name is delivered to once: at the instance that asked.
    const same = deliveries.findIndex((delivery) => delivery.service.name === requester.name)
    if (same !== -1) {
      if (deliveries[same]!.service === requester.receiver) return { publicName, deliveries }
      const all = [...deliveries]
      all[same] = deliveryTo(requester, toInternalName(publicName, requester.registration))
      return { publicName, deliveries: all }
    }
    if (deliveries === NO_DELIVERIES || deliveries === receivers?.single) {
      return { publicName, deliveries: this.#withRequester(deliveries, requester, publicName) }
    }
    return {
      publicName,
      deliveries: [
        ...deliveries,
        deliveryTo(requester, toInternalName(publicName, requester.registration)),
      ],
    }
  }

  /**
   * Remembers that `sender` (its instance `instance`, when the message named one) sent
   * message `id`, so that replies to it find their way back. The last `rememberedSenders` ids
   * are always remembered, older ones up to twice as many.
   */
  remember(
    id: string,
    sender: string,
    instance?: string,
    /** Where a request (a message with a deadline) went: its cancellation goes there too. */
    takenBy?: readonly Delivery[],
  ): void {
    this.#senders?.set(
      id,
      instance === undefined && takenBy === undefined ? sender : { sender, instance, takenBy },
    )
  }

  /**
   * Where the cancellation of request `id`, sent by `sender` (its instance `instance`), goes:
   * the instances that took the request and, as registered now at that address, understand
   * cancellations. Only the instance that sent the request may cancel it (none when another
   * sender asks), and only once: the record of where it went is then forgotten. Each
   * delivery names `__cancel`.
   */
  cancellationsOf(id: string, sender: string, instance: string | undefined): Delivery[] {
    const requester = this.#senders?.get(id)
    if (typeof requester !== 'object' || requester.takenBy === undefined) return []
    if (requester.sender !== sender || requester.instance !== instance) return []
    this.#senders?.set(id, { sender, instance })
    return requester.takenBy
      .filter((delivery) => this.#atAddress(delivery)?.registration.cancels === true)
      .map((delivery) => ({ ...delivery, internalName: CANCEL, path: CANCEL_PATH }))
  }

  /** The service that sent message `id`, while the table still remembers it. */
  senderOf(id: string): string | undefined {
    const requester = this.#senders?.get(id)
    return typeof requester === 'string' ? requester : requester?.sender
  }

  /** The table in the `GET /config.json` shape. */
  config(): ExoComConfig {
    // fromEntries defines own properties, so a name like `__proto__` stays an ordinary key.
    return {
      services: Object.fromEntries(
        [...this.#services].map(([name, instances]) => [
          name,
          serviceEntry([...instances.values()].map((instance) => instance.receiver)),
        ]),
      ),
      routes: Object.fromEntries(
        [...this.#receivers].map(([name, receivers]) => [
          name,
          {
            receivers: receivers.groups.map((group) =>
              serviceEntry(group.deliveries.map((delivery) => delivery.service)),
            ),
          },
        ]),
      ),
    }
  }

  /** The instance a reply to message `id` goes back to, while it is registered. */
  #requesterOf(id: string): Instance | undefined {
    const requester = this.#senders?.get(id)
    if (requester === undefined) return undefined
    if (typeof requester === 'string') return this.#instanceOf(requester, undefined)
    const registered = this.#instanceOf(requester.sender, requester.instance)
    if (registered !== undefined || requester.instance === undefined) return registered
    const closing = this.#closing.get(closingKey(requester.sender, requester.instance))
    if (closing === undefined) return undefined
    if (closing.until >= this.#now()) return closing.instance
    this.#closing.delete(closingKey(requester.sender, requester.instance))
    return undefined
  }

  /**
   * What a message from instance `id` of `service` is sent as: that instance's registration,
   * or, for an instance the table does not know (refused, or dropped while its siblings
   * serve), the first instance's. The instances of a service share its namespace.
   */
  #describing(service: string, id: string | undefined): ServiceRegistration | undefined {
    const instances = this.#services.get(service)
    const own = id === undefined ? undefined : instances?.get(id)
    return (own ?? firstOf(instances))?.registration
  }

  /**
   * The instance `id` of `service`, or its first instance without an id. A relay names its
   * instance on every message; when its service was registered without ids (by an operator's
   * table, say), the message comes from that entry, whichever the relay's id is. Otherwise an
   * id the table does not know is an instance that is gone.
   */
  #instanceOf(service: string, id: string | undefined): Instance | undefined {
    const instances = this.#services.get(service)
    if (instances === undefined) return undefined
    if (id !== undefined) {
      const found = instances.get(id)
      if (found !== undefined) return found
      for (const instance of instances.values()) {
        if (instance.registration.instance !== undefined) return undefined
      }
    }
    return firstOf(instances)
  }

  /**
   * The receivers of `publicName` plus the requester a reply goes back to. Kept per requester
   * and name until the table changes, so that routing a reply allocates nothing; a bounded
   * number of names, so that a sender inventing names cannot grow the bus.
   */
  #withRequester(
    deliveries: readonly Delivery[],
    requester: Instance,
    publicName: string,
  ): readonly Delivery[] {
    const known = requester.replies.get(publicName)
    if (known !== undefined) return known
    const all = Object.freeze([
      ...deliveries,
      deliveryTo(requester, toInternalName(publicName, requester.registration)),
    ])
    if (requester.replies.size < CACHED_REPLY_NAMES) requester.replies.set(publicName, all)
    return all
  }

  /**
   * Re-indexes one service whose instances were `before` and are `after`: only the names they
   * received or receive get new receivers (new objects: a route handed out before stays as
   * it was). The service keeps its place among the receivers of a name it still receives.
   */
  #reindexService(name: string, before: readonly Instance[], after: readonly Instance[]): void {
    const names = new Set<string>()
    for (const instance of [...before, ...after]) {
      for (const publicName of instance.names) names.add(publicName)
    }
    for (const publicName of names) {
      const deliveries: Delivery[] = []
      for (const instance of after) {
        if (!instance.names.has(publicName)) continue
        deliveries.push(deliveryTo(instance, toInternalName(publicName, instance.registration)))
      }
      const groups = [...(this.#receivers.get(publicName)?.groups ?? [])]
      const at = groups.findIndex((group) => group.service === name)
      const group = {
        service: name,
        deliveries,
        next: at === -1 ? 0 : turnAfter(groups[at]!, deliveries),
      }
      if (deliveries.length === 0) {
        if (at !== -1) groups.splice(at, 1)
      } else if (at === -1) groups.push(group)
      else groups[at] = group
      if (groups.length === 0) this.#receivers.delete(publicName)
      else this.#receivers.set(publicName, receiversOf(groups))
    }
  }

  #instance(service: ServiceRegistration, registeredAt: number | undefined): Instance {
    const receiver = describeInstance(
      service,
      registeredAt === undefined ? 'configured' : 'self-registered',
    )
    return {
      key: instanceKey(service),
      registration: service,
      name: service.name,
      receiver,
      origin: originOf(receiver),
      names: publicNamesReceivedBy(service),
      replies: new Map(),
      registeredAt,
    }
  }
}

function closingKey(service: string, instance: string): string {
  return `${service}\n${instance}`
}

/** One instance of a service as routing needs it, made anew whenever it changes. */
interface Instance {
  /** Its `instance` id, or its address for an entry without one (see `instanceKey`). */
  readonly key: string
  readonly name: string
  readonly registration: ServiceRegistration
  readonly receiver: Receiver
  readonly origin: string
  /** The public names it receives. */
  readonly names: ReadonlySet<string>
  /** Routes of replies to this instance (as requester), by public name. */
  readonly replies: Map<string, readonly Delivery[]>
  /** When it last registered itself; `undefined` for an operator's entry. */
  registeredAt: number | undefined
}

/** The instances of one service that receive one public name, taken in turn. */
interface Group {
  readonly service: string
  readonly deliveries: readonly Delivery[]
  next: number
}

/** Who receives one public name. */
interface Receivers {
  readonly groups: readonly Group[]
  /** When every service has one instance for the name: its deliveries, routed as they are. */
  readonly single: readonly Delivery[] | undefined
}

function receiversOf(groups: readonly Group[]): Receivers {
  const single = groups.every((group) => group.deliveries.length === 1)
    ? Object.freeze(groups.map((group) => group.deliveries[0]!))
    : undefined
  return { groups, single }
}

/** One delivery per service: the next of its instances, in turn. */
function pick(groups: readonly Group[]): Delivery[] {
  return groups.map(nextOf)
}

/**
 * Where the turn of a group goes on in its new `deliveries`: at the instance that was next, if
 * it is still there, so that a change of one instance sends the next message neither to the
 * first instance again nor past the one whose turn it was.
 */
function turnAfter(old: Group, deliveries: readonly Delivery[]): number {
  const due = old.deliveries[old.next]?.origin
  const at = deliveries.findIndex((delivery) => delivery.origin === due)
  return at !== -1 ? at : old.next % Math.max(deliveries.length, 1)
}

function nextOf(group: Group): Delivery {
  const delivery = group.deliveries[group.next]!
  group.next = (group.next + 1) % group.deliveries.length
  return delivery
}

const NO_INSTANCES: ReadonlyMap<string, Instance> = new Map()
const CANCEL_PATH = runPath(CANCEL)
const NO_DELIVERIES: readonly Delivery[] = Object.freeze([])

/**
 * What tells the instances of a service apart: the id it registered with, or its address. An
 * id has no spaces, so it never equals an address key, and is the key as it is: routing a
 * message that names its instance builds no string.
 */
function instanceKey(service: ServiceRegistration): string {
  return service.instance ?? `at ${originOf(service)}`
}

function firstOf(instances: ReadonlyMap<string, Instance> | undefined): Instance | undefined {
  return instances?.values().next().value
}

function registrationsOf(
  services: ReadonlyMap<string, ReadonlyMap<string, Instance>>,
): ServiceRegistration[] {
  const all: ServiceRegistration[] = []
  for (const instances of services.values()) {
    for (const instance of instances.values()) all.push(instance.registration)
  }
  return all
}

/** A service entry of `GET /config.json`, from the instances it shows (at least one). */
function serviceEntry(receivers: readonly Receiver[]): ExoComService {
  const instances = receivers.map(({ name: _name, ...instance }) => instance)
  return { name: receivers[0]!.name, ...instances[0]!, instances }
}

/**
 * The public names a service receives: listed as its own service.yml has them, translated;
 * a name listed twice, or in both forms, is received once.
 */
function publicNamesReceivedBy(service: ServiceRegistration): Set<string> {
  return new Set(service.receives.map((listed) => toListedPublicName(listed, service)))
}

/** Whether two registrations of one instance route alike (and show alike). */
function sameRegistration(a: ServiceRegistration, b: ServiceRegistration): boolean {
  return (
    a.host === b.host &&
    a.port === b.port &&
    a.instance === b.instance &&
    a.internalNamespace === b.internalNamespace &&
    a.batches === b.batches &&
    a.errorReplies === b.errorReplies &&
    a.cancels === b.cancels &&
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

function deliveryTo(instance: Instance, internalName: string): Delivery {
  return {
    service: instance.receiver,
    internalName,
    origin: instance.origin,
    path: runPath(internalName),
  }
}

/** `http://<host>:<port>`; an IPv6 literal needs brackets in a URL. */
export function originOf(service: Pick<ServiceAddress, 'host' | 'port'>): string {
  const host = service.host.includes(':') ? `[${service.host}]` : service.host
  return `http://${host}:${service.port}`
}

function describeInstance(service: ServiceRegistration, source: ServiceSource): Receiver {
  const described: Receiver = { name: service.name, host: service.host, port: service.port, source }
  if (service.instance !== undefined) described.instance = service.instance
  if (service.internalNamespace !== undefined) {
    described.internalNamespace = service.internalNamespace
  }
  if (service.batches === true) described.batches = true
  if (service.errorReplies === true) described.errorReplies = true
  if (service.cancels === true) described.cancels = true
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
  const instance = fields.instance
  if (instance !== undefined) {
    if (!isInstanceId(instance)) {
      throw invalid(
        `${label} has an 'instance' that is not an id of 1 to ${MAX_INSTANCE_LENGTH} visible ASCII characters without spaces, got ${describeValue(instance)}.`,
      )
    }
    service.instance = instance
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
  for (const flag of ['batches', 'errorReplies', 'cancels'] as const) {
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
    (service.internalNamespace?.length ?? 0) +
    service.name.length +
    service.host.length +
    (service.instance?.length ?? 0)
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
