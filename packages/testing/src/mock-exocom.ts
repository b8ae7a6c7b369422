import { once } from 'node:events'
import type { Envelope } from '@exorelay/core'
import {
  createMessageId,
  ErrorCodes,
  isExoRelayError,
  parseEnvelope,
  TimeoutError,
} from '@exorelay/core'
import type { ServiceRegistration } from '@exorelay/http-protocol'
import { ERROR_CODE_HEADER, runPath } from '@exorelay/http-protocol'
import Fastify, { type FastifyInstance } from 'fastify'
import { Pool } from 'undici'

/** A message a service sent to the mock: the name from the URL plus the whole JSON body. */
export interface ReceivedEnvelope extends Envelope {
  sender?: string
}

/** One HTTP request the mock received on `/send/*`, exactly as it came. */
export interface ReceivedRequest {
  method: string
  url: string
  headers: Record<string, string | string[] | undefined>
  body: unknown
}

/** A service the mock knows, as `registerService` takes it. */
export interface MockService {
  /** The service's name. */
  name: string
  /** The port its relay listens on. */
  port: number
  /** The host of its relay. Default `'127.0.0.1'`. */
  host?: string
  /** Names to forward to this service when another service sends them. Default: none. */
  receives?: string[]
}

/** A message the mock posts to a registered service, as `send` takes it. */
export interface MockSendOptions {
  /** The registered service to post to. */
  service: string
  name: string
  payload?: unknown
  responseTo?: string
  /** Default: a new id. */
  id?: string
}

/**
 * A stand-in ExoCom on a real port, for testing a service the way it runs: the service's
 * relay talks to it exactly as to a real ExoCom. It records what the service sends, lets the
 * test post messages to the service, and forwards a message to the registered services that
 * `receives` it (and a reply to its requester), so two relays can talk through it.
 *
 * @example
 * ```ts
 * const exocom = new MockExoCom()
 * const port = await exocom.listen()
 * const relay = new ExoRelay({ serviceName: 'users', exocomPort: port, port: 0 })
 * relay.registerHandler('users.create', (user, { reply }) => reply('users.created', user))
 * const relayPort = await relay.listen()
 * exocom.registerService({ name: 'users', port: relayPort })
 * await exocom.send({ service: 'users', name: 'users.create', payload: { name: 'Will' } })
 * const created = await exocom.waitForMessage('users.created')
 * ```
 */
export class MockExoCom {
  /** Every message services sent, in order, with name, id, sender, payload, responseTo. */
  readonly receivedMessages: ReceivedEnvelope[] = []
  /** Every raw `/send/*` request, for assertions on paths and headers. */
  readonly receivedRequests: ReceivedRequest[] = []
  /** The status `/send/*` answers with; set it to make the bus refuse (e.g. 500). Default 200. */
  sendStatus = 200

  readonly #app: FastifyInstance
  readonly #services = new Map<string, MockService>()
  readonly #pools = new Map<string, Pool>()
  readonly #requesters = new Map<string, string>()
  // Fires on every received message and registration, so waits need no polling.
  readonly #changes = new EventTarget()

  readonly #replyRouting: boolean

  /**
   * @param options.replyRouting Deliver a reply to the service that sent the request even when
   *   it did not declare the reply's name (the `@exorelay/exocom` extension). Default true;
   *   `false` routes by declared name only, as the original ExoCom did.
   */
  constructor(options: { replyRouting?: boolean } = {}) {
    this.#replyRouting = options.replyRouting ?? true
    this.#app = Fastify({ logger: false, forceCloseConnections: true })
    this.#app.post('/send/*', async (request, reply) => {
      const name = (request.params as { '*': string })['*']
      this.receivedRequests.push({
        method: request.method,
        url: request.url,
        headers: request.headers,
        body: request.body,
      })
      let envelope: ReceivedEnvelope
      try {
        envelope = parseEnvelope(name, request.body)
      } catch (error) {
        const code = isExoRelayError(error) ? error.code : ErrorCodes.INVALID_MESSAGE
        return reply
          .code(400)
          .header(ERROR_CODE_HEADER, code)
          .type('text/plain')
          .send(String((error as Error).message))
      }
      this.receivedMessages.push(envelope)
      this.#changes.dispatchEvent(new Event('change'))
      if (this.sendStatus !== 200) return reply.code(this.sendStatus).send()
      if (envelope.sender !== undefined) this.#requesters.set(envelope.id, envelope.sender)
      await this.#forward(envelope)
      return reply.code(200).send()
    })
    this.#app.put('/services/:name', async (request, reply) => {
      const service = request.body as Partial<ServiceRegistration> | null
      if (typeof service?.name !== 'string' || typeof service.port !== 'number') {
        return reply
          .code(400)
          .header(ERROR_CODE_HEADER, ErrorCodes.INVALID_MESSAGE)
          .type('text/plain')
          .send('a registration needs a name and a port')
      }
      this.registerService({
        name: service.name,
        port: service.port,
        host: service.host ?? '127.0.0.1',
        receives: service.receives ?? [],
      })
      return reply.code(200).send()
    })
    this.#app.delete('/services/:name', async (request, reply) => {
      const { name } = request.params as { name: string }
      return reply.code(this.#services.delete(name) ? 200 : 404).send()
    })
    this.#app.get('/status', async (_request, reply) => reply.code(200).send())
  }

  /** The port, once listening. */
  get port(): number {
    const address = this.#app.server.address()
    return typeof address === 'object' && address !== null ? address.port : 0
  }

  /** Starts the mock on 127.0.0.1; port 0 (the default) picks a free one. Resolves with the port. */
  async listen(port = 0): Promise<number> {
    await this.#app.listen({ port, host: '127.0.0.1' })
    return this.port
  }

  /** Stops the mock and its connections to services. */
  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((pool) => pool.close()))
    this.#pools.clear()
    await this.#app.close()
  }

  /** Tells the mock where a service listens (services using the relay also register themselves). */
  registerService(service: MockService): void {
    this.#services.set(service.name, { host: '127.0.0.1', receives: [], ...service })
    this.#changes.dispatchEvent(new Event('change'))
  }

  /** The services the mock knows. */
  get services(): MockService[] {
    return [...this.#services.values()]
  }

  /** Forgets the received messages and requests, and answers 200 again. Services stay registered. */
  reset(): void {
    this.receivedMessages.length = 0
    this.receivedRequests.length = 0
    this.#requesters.clear()
    this.sendStatus = 200
  }

  /**
   * Resolves with the first message of that name the services sent (including ones sent
   * before the call), or rejects with a `TimeoutError` after `timeout` ms (default 2,000).
   */
  waitForMessage(name: string, options: { timeout?: number } = {}): Promise<ReceivedEnvelope> {
    return this.#waitFor(
      () => this.receivedMessages.find((message) => message.name === name),
      options.timeout,
      () => {
        const seen = this.receivedMessages.map((message) => message.name).join(', ') || 'none'
        return `No message '${name}' arrived (received: ${seen})`
      },
    )
  }

  /** Resolves once a service of that name is registered (by `registerService` or self-registration). */
  waitForService(name: string, options: { timeout?: number } = {}): Promise<MockService> {
    return this.#waitFor(
      () => this.#services.get(name),
      options.timeout,
      () => `No service '${name}' registered`,
    )
  }

  async #waitFor<T>(
    find: () => T | undefined,
    timeout = 2_000,
    describe: () => string,
  ): Promise<T> {
    const signal = AbortSignal.timeout(timeout)
    for (;;) {
      const found = find()
      if (found !== undefined) return found
      try {
        await once(this.#changes, 'change', { signal })
      } catch {
        throw new TimeoutError(`${describe()} within ${timeout} ms.`, timeout)
      }
    }
  }

  /**
   * Posts a message to a registered service as ExoCom would (`POST /run/<name>`) and
   * resolves with the HTTP status the service answered.
   */
  async send(options: MockSendOptions): Promise<number> {
    const service = this.#services.get(options.service)
    if (service === undefined) {
      throw new Error(
        `MockExoCom knows no service '${options.service}'; registerService() it first.`,
      )
    }
    const body: Record<string, unknown> = { id: options.id ?? createMessageId() }
    if (options.payload !== undefined) body.payload = options.payload
    if (options.responseTo !== undefined) body.responseTo = options.responseTo
    return this.#deliver(service, options.name, body)
  }

  async #forward(envelope: ReceivedEnvelope): Promise<void> {
    const receivers = new Set<MockService>()
    for (const service of this.#services.values()) {
      if (service.receives?.includes(envelope.name)) receivers.add(service)
    }
    const requester =
      this.#replyRouting && envelope.responseTo && this.#requesters.get(envelope.responseTo)
    const requesterService = requester ? this.#services.get(requester) : undefined
    if (requesterService !== undefined) receivers.add(requesterService)
    const { name, sender: _sender, ...body } = envelope
    await Promise.all([...receivers].map((service) => this.#deliver(service, name, body)))
  }

  async #deliver(service: MockService, name: string, body: object): Promise<number> {
    const origin = `http://${service.host ?? '127.0.0.1'}:${service.port}`
    let pool = this.#pools.get(origin)
    if (pool === undefined) {
      pool = new Pool(origin, { connections: 4 })
      this.#pools.set(origin, pool)
    }
    const response = await pool.request({
      method: 'POST',
      path: runPath(name),
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    })
    await response.body.dump()
    return response.statusCode
  }
}
