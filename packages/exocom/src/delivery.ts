import { type Envelope, type Logger, runPath } from '@exorelay/core'
import { Pool } from 'undici'
import { formatMessageLine } from './message-log.js'
import type { ExoComService } from './routing-table.js'

export interface DeliveryOptions {
  /** Milliseconds one delivery may take in all: waiting for a connection, connecting, answering. */
  readonly timeout: number
  readonly logger: Logger
  /** The shared secret, sent as `authorization: Bearer <token>` with every delivery. */
  readonly token?: string | undefined
  /** Deliveries that may be under way to one receiver; more are dropped with a warning. */
  readonly maxPending?: number | undefined
}

/** What the deliverer holds right now; for tests and diagnostics. */
export interface DeliveryStats {
  /** Receiver origins with a pool. */
  readonly pools: number
  /** Deliveries started and not yet settled, over all receivers. */
  readonly pending: number
  /** Open connections over all pools. */
  readonly connections: number
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
// What waits in a pool holds its body: a receiver that hangs while messages keep coming must
// not grow the bus's memory without bound. Each delivery ends within the timeout anyway.
export const DEFAULT_MAX_PENDING = 1000
// A receiver's error text goes into the warning; a rogue receiver must not fill the log.
const MAX_ERROR_TEXT = 200
// Bytes of an error answer read at most; leaving the rest unread closes that connection.
const ERROR_READ_LIMIT = 4096
const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
])

/**
 * Posts routed messages to their receivers (`POST /run/<name>`) over one keep-alive undici
 * Pool per receiver origin. A delivery never throws: a receiver that is down, answers non-2xx
 * or times out is logged as a warning, and the bus carries on. Receivers never wait for each
 * other: each has its own pool, and each delivery ends within the timeout.
 */
export class Deliverer {
  readonly #timeout: number
  readonly #log: Logger
  readonly #headers: Record<string, string>
  readonly #maxPending: number
  readonly #pools = new Map<string, Pool>()
  readonly #pendingByOrigin = new Map<string, number>()
  readonly #inFlight = new Set<Promise<void>>()
  #closed = false

  constructor(options: DeliveryOptions) {
    this.#timeout = options.timeout
    this.#log = options.logger
    this.#maxPending = options.maxPending ?? DEFAULT_MAX_PENDING
    this.#headers = { 'content-type': 'application/json', accept: 'application/json' }
    if (options.token !== undefined) this.#headers.authorization = `Bearer ${options.token}`
  }

  /**
   * Starts the delivery at once and returns its promise, which always resolves. The request
   * is handed to the pool before this returns, so the bus may answer the sender right away.
   */
  deliver(job: DeliveryJob): Promise<void> {
    const origin = originOf(job.receiver)
    const pending = this.#pendingByOrigin.get(origin) ?? 0
    if (pending >= this.#maxPending && !this.#closed) {
      const { fields, line } = describeJob(job)
      this.#log.warn(
        { ...fields, pending },
        `not delivered: ${line}: ${pending} deliveries to the receiver are still under way`,
      )
      return Promise.resolve()
    }
    this.#pendingByOrigin.set(origin, pending + 1)
    const delivery = this.#deliver(job)
    this.#inFlight.add(delivery)
    void delivery.finally(() => {
      this.#inFlight.delete(delivery)
      const left = (this.#pendingByOrigin.get(origin) ?? 1) - 1
      if (left === 0) this.#pendingByOrigin.delete(origin)
      else this.#pendingByOrigin.set(origin, left)
    })
    return delivery
  }

  /** What the deliverer holds right now. */
  stats(): DeliveryStats {
    let connections = 0
    for (const pool of this.#pools.values()) connections += pool.stats.connected
    return { pools: this.#pools.size, pending: this.#inFlight.size, connections }
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
    const { receiver, internalName, envelope } = job
    const { fields, line } = describeJob(job)
    if (this.#closed) {
      this.#log.warn(fields, `not delivered: ${line}: ExoCom is closing`)
      return
    }
    // The sender's id passes through unchanged; `sender` is not forwarded, as in the original.
    const body: Record<string, unknown> = { id: envelope.id }
    if (envelope.payload !== undefined) body.payload = envelope.payload
    if (envelope.responseTo !== undefined) body.responseTo = envelope.responseTo
    // One deadline for the whole delivery: undici's own timeouts restart at each stage (and
    // at each body chunk), so a receiver that trickles its answer would hold close() for ever.
    const deadline = new AbortController()
    const timer = setTimeout(() => deadline.abort(this.#timeoutError()), this.#timeout)
    try {
      const response = await this.#pool(receiver).request({
        method: 'POST',
        path: runPath(internalName),
        headers: this.#headers,
        body: JSON.stringify(body),
        headersTimeout: this.#timeout,
        bodyTimeout: this.#timeout,
        signal: deadline.signal,
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
      const reason = this.#describeFailure(err, deadline.signal.aborted)
      this.#log.warn({ ...fields, err }, `not delivered: ${line}: ${reason}`)
    } finally {
      clearTimeout(timer)
    }
  }

  #timeoutError(): Error {
    return new Error(`The receiver did not answer within ${this.#timeout} ms.`)
  }

  #describeFailure(err: unknown, expired: boolean): string {
    const code = (err as { code?: unknown } | null)?.code
    if (expired || (typeof code === 'string' && TIMEOUT_CODES.has(code))) {
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

/** The log fields and the console line of one delivery. */
function describeJob(job: DeliveryJob): { fields: Record<string, unknown>; line: string } {
  const { receiver, internalName, publicName, sender, envelope } = job
  const fields: Record<string, unknown> = {
    sender,
    receiver: receiver.name,
    messageName: publicName,
    messageId: envelope.id,
  }
  if (internalName !== publicName) fields.internalName = internalName
  if (envelope.responseTo !== undefined) fields.responseTo = envelope.responseTo
  return { fields, line: formatMessageLine(sender, publicName, internalName, receiver.name) }
}

function originOf(service: ExoComService): string {
  // An IPv6 literal needs brackets in a URL.
  const host = service.host.includes(':') ? `[${service.host}]` : service.host
  return `http://${host}:${service.port}`
}

async function readErrorText(body: AsyncIterable<Buffer>): Promise<string> {
  let text = ''
  let read = 0
  // A short body is read to its end so the socket can be reused; a long one is cut off
  // (leaving the loop destroys the body), so a rogue receiver cannot stream into the bus.
  for await (const chunk of body) {
    read += chunk.length
    if (text.length < MAX_ERROR_TEXT) text += chunk.toString('utf8')
    if (read >= ERROR_READ_LIMIT) break
  }
  return text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT)}…` : text
}
