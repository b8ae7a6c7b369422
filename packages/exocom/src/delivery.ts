import { type Envelope, type Logger, runPath } from '@exorelay/core'
import { Pool } from 'undici'
import { formatMessageLine } from './message-log.js'
import type { ExoComService } from './routing-table.js'

export interface DeliveryOptions {
  /** Milliseconds a receiver may take to connect, answer and send its body. */
  readonly timeout: number
  readonly logger: Logger
}

/** One message on its way to one receiver. */
export interface DeliveryJob {
  readonly receiver: ExoComService
  /** The name as the receiver knows it. */
  readonly internalName: string
  /** The public name, for the console line. */
  readonly publicName: string
  readonly sender: string
  readonly envelope: Envelope
}

// Enough parallel deliveries to one receiver for any development load, while a flood of
// messages to a hanging receiver cannot open sockets without bound: the rest wait in the pool.
const CONNECTIONS_PER_RECEIVER = 64
// A receiver's error text goes into the warning; a rogue receiver must not fill the log.
const MAX_ERROR_TEXT = 200
const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
])

/**
 * Posts routed messages to their receivers (`POST /run/<name>`) over one keep-alive undici
 * Pool per receiver origin. A delivery never throws: a receiver that is down, answers non-2xx
 * or times out is logged as a warning, and the bus carries on.
 */
export class Deliverer {
  readonly #timeout: number
  readonly #log: Logger
  readonly #pools = new Map<string, Pool>()
  readonly #inFlight = new Set<Promise<void>>()
  #closed = false

  constructor(options: DeliveryOptions) {
    this.#timeout = options.timeout
    this.#log = options.logger
  }

  /**
   * Starts the delivery at once and returns its promise, which always resolves. The request
   * is handed to the pool before this returns, so the bus may answer the sender right away.
   */
  deliver(job: DeliveryJob): Promise<void> {
    const delivery = this.#deliver(job)
    this.#inFlight.add(delivery)
    void delivery.finally(() => this.#inFlight.delete(delivery))
    return delivery
  }

  /**
   * Closes the pools of origins that no registered service uses any more. Their in-flight
   * deliveries finish first (undici's graceful close).
   */
  retain(services: readonly ExoComService[]): void {
    const wanted = new Set(services.map(originOf))
    for (const [origin, pool] of this.#pools) {
      if (wanted.has(origin)) continue
      this.#pools.delete(origin)
      void pool.close().catch(() => {})
    }
  }

  /** Waits for in-flight deliveries (each bounded by the timeout), then closes every pool. */
  async close(): Promise<void> {
    this.#closed = true
    await Promise.all(this.#inFlight)
    const pools = [...this.#pools.values()]
    this.#pools.clear()
    await Promise.all(pools.map((pool) => pool.close()))
  }

  async #deliver(job: DeliveryJob): Promise<void> {
    const { receiver, internalName, publicName, sender, envelope } = job
    const fields: Record<string, unknown> = {
      sender,
      receiver: receiver.name,
      messageName: publicName,
      messageId: envelope.id,
    }
    if (internalName !== publicName) fields.internalName = internalName
    if (envelope.responseTo !== undefined) fields.responseTo = envelope.responseTo
    const line = formatMessageLine(sender, publicName, internalName, receiver.name)
    if (this.#closed) {
      this.#log.warn(fields, `not delivered: ${line}: ExoCom is closing`)
      return
    }
    // The sender's id passes through unchanged; `sender` is not forwarded, as in the original.
    const body: Record<string, unknown> = { id: envelope.id }
    if (envelope.payload !== undefined) body.payload = envelope.payload
    if (envelope.responseTo !== undefined) body.responseTo = envelope.responseTo
    try {
      const response = await this.#pool(receiver).request({
        method: 'POST',
        path: runPath(internalName),
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        headersTimeout: this.#timeout,
        bodyTimeout: this.#timeout,
      })
      if (response.statusCode >= 200 && response.statusCode < 300) {
        // An unread body would hold the keep-alive socket.
        await response.body.dump()
        this.#log.info(fields, line)
        return
      }
      const text = await readErrorText(response.body)
      this.#log.warn(
        { ...fields, status: response.statusCode, response: text },
        `not delivered: ${line}: the receiver answered ${response.statusCode}`,
      )
    } catch (err) {
      this.#log.warn({ ...fields, err }, `not delivered: ${line}: ${this.#describeFailure(err)}`)
    }
  }

  #describeFailure(err: unknown): string {
    const code = (err as { code?: unknown } | null)?.code
    if (typeof code === 'string' && TIMEOUT_CODES.has(code)) {
      return `the receiver did not answer within ${this.#timeout} ms`
    }
    return `the receiver is unreachable (${typeof code === 'string' ? code : String(err)})`
  }

  #pool(receiver: ExoComService): Pool {
    const origin = originOf(receiver)
    let pool = this.#pools.get(origin)
    if (pool === undefined) {
      pool = new Pool(origin, {
        connections: CONNECTIONS_PER_RECEIVER,
        headersTimeout: this.#timeout,
        bodyTimeout: this.#timeout,
        connect: { timeout: this.#timeout },
      })
      this.#pools.set(origin, pool)
    }
    return pool
  }
}

function originOf(service: ExoComService): string {
  // An IPv6 literal needs brackets in a URL.
  const host = service.host.includes(':') ? `[${service.host}]` : service.host
  return `http://${host}:${service.port}`
}

async function readErrorText(body: AsyncIterable<Buffer>): Promise<string> {
  let text = ''
  // Read to the end so the socket can be reused, keep only the start.
  for await (const chunk of body) {
    if (text.length < MAX_ERROR_TEXT) text += chunk.toString('utf8')
  }
  return text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT)}…` : text
}
