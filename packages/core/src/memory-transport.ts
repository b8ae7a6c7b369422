import { envelopeBody, type OutgoingEnvelope } from './envelope.js'
import { ErrorCodes, ListenError } from './errors.js'
import { CANCEL } from './handler-context.js'
import type { ReceivedMessage } from './message-map.js'
import { noReceiverError } from './no-receiver.js'
import { RecentMap } from './recent-map.js'
import type {
  BusStatus,
  Endpoint,
  ListenInfo,
  Receipt,
  Transport,
  TransportSendOptions,
} from './transport.js'

/** One delivery the memory bus made, for assertions in tests. */
export interface MemoryDelivery {
  readonly message: ReceivedMessage
  readonly receiver: string
  readonly receipt: Receipt
}

// Enough to route the replies of any realistic test: the last 10,000 ids (up to 20,000).
const REMEMBERED_SENDERS = 10_000

/**
 * A bus in one process, for tests without sockets. It routes like ExoCom: a message goes to
 * every listening relay with a handler for its name, and a reply (a message with
 * `responseTo`) also goes to the relay that sent the original message, once. Messages are
 * copied through JSON on the way, exactly as the wire would copy them.
 *
 * @example
 * ```ts
 * const bus = new MemoryBus()
 * const users = new Relay({ serviceName: 'users', transport: bus.transport() })
 * const web = new Relay({ serviceName: 'web', transport: bus.transport() })
 * users.registerHandler('users.create', (user, { reply }) => reply('users.created', user))
 * await Promise.all([users.listen(), web.listen()])
 * const created = await web.send('users.create', { name: 'Will' })
 * ```
 */
export class MemoryBus {
  readonly #transports = new Set<MemoryTransport>()
  readonly #senders = new RecentMap<string, MemoryTransport>(REMEMBERED_SENDERS)
  // Where each request went: its cancellation goes there too.
  readonly #receivers = new RecentMap<string, Set<MemoryTransport>>(REMEMBERED_SENDERS)
  /** Every delivery made, in order. */
  readonly deliveries: MemoryDelivery[] = []

  /** A new transport attached to this bus, for one relay. */
  transport(): Transport {
    return new MemoryTransport(this)
  }

  /** @internal */
  attach(transport: MemoryTransport): void {
    this.#transports.add(transport)
  }

  /** @internal */
  detach(transport: MemoryTransport): void {
    this.#transports.delete(transport)
  }

  /** @internal Routes one message; resolves once it was handed to every receiver. */
  async route(from: MemoryTransport, envelope: OutgoingEnvelope): Promise<void> {
    // The wire copies; so does this bus, so a test catches what JSON would lose.
    const body = JSON.parse(JSON.stringify(envelopeBody(envelope))) as Omit<ReceivedMessage, 'name'>
    const message: ReceivedMessage = { name: envelope.name, ...body }
    // Deliver on a later turn of the event loop, as a network would.
    await new Promise<void>((resolve) => setImmediate(resolve))
    const receivers = new Set<MemoryTransport>()
    if (envelope.name === CANCEL) {
      // A cancellation goes where the request went, as ExoCom routes it.
      for (const transport of this.#receivers.get(envelope.responseTo ?? '') ?? []) {
        if (this.#transports.has(transport)) receivers.add(transport)
      }
    } else {
      for (const transport of this.#transports) {
        if (transport.handles(envelope.name)) receivers.add(transport)
      }
    }
    const requester =
      envelope.name !== CANCEL && envelope.responseTo && this.#senders.get(envelope.responseTo)
    if (requester && this.#transports.has(requester)) receivers.add(requester)
    if (receivers.size === 0) {
      throw noReceiverError(
        envelope.name,
        'A relay on a MemoryBus receives once its listen() has resolved',
        { status: 404 },
      )
    }
    this.#senders.set(envelope.id, from)
    if (envelope.timeout !== undefined) this.#receivers.set(envelope.id, receivers)
    for (const receiver of receivers) {
      const receipt = receiver.deliver(message)
      this.deliveries.push({ message, receiver: receiver.serviceName, receipt })
    }
  }
}

class MemoryTransport implements Transport {
  readonly #bus: MemoryBus
  #endpoint: Endpoint | undefined
  #closed = false
  // A listening socket keeps a process alive; so does a listening memory transport, or a
  // test awaiting a reply over the memory bus would end with the event loop empty.
  #keepAlive: NodeJS.Timeout | undefined

  constructor(bus: MemoryBus) {
    this.#bus = bus
  }

  get serviceName(): string {
    return this.#endpoint?.serviceName ?? '(not listening)'
  }

  handles(name: string): boolean {
    return this.#endpoint?.handledNames().includes(name) ?? false
  }

  deliver(message: ReceivedMessage): Receipt {
    return this.#endpoint!.receive(message)
  }

  async listen(endpoint: Endpoint): Promise<ListenInfo> {
    if (this.#closed)
      throw new ListenError(
        ErrorCodes.LISTEN_FAILED,
        'This memory transport is closed: give the relay a new one, bus.transport().',
      )
    this.#endpoint = endpoint
    this.#bus.attach(this)
    this.#keepAlive ??= setInterval(() => {}, 2 ** 30)
    return { port: 0 }
  }

  /** The bus is in this process: always reachable; routed to while listening. */
  busStatus(): BusStatus {
    return { bus: 'reachable', registered: this.#endpoint !== undefined && !this.#closed }
  }

  async send(envelope: OutgoingEnvelope, options: TransportSendOptions): Promise<void> {
    if (options.signal?.aborted) throw options.signal.reason
    await this.#bus.route(this, envelope)
  }

  async close(): Promise<void> {
    this.#closed = true
    clearInterval(this.#keepAlive)
    this.#bus.detach(this)
  }
}
