import {
  type Endpoint,
  envelopeBody,
  type ListenInfo,
  type OutgoingEnvelope,
  parseEnvelope,
  Relay,
  type Transport,
} from '@exorelay/core'
import { PAYLOAD, REPLY_NAME, REQUEST_NAME } from './payload.js'

/** How long the micro-benchmark runs. */
export interface CoreMicroOptions {
  /** Request/replies measured per variant. */
  readonly iterations: number
  /** Request/replies run first and thrown away, so the JIT has optimised the path. */
  readonly warmup: number
}

/** Nanoseconds per request/reply through core's `Relay`, with no I/O. */
export interface CoreMicroResult {
  readonly iterations: number
  /** Dispatch, correlation and envelope validation only, with the default `stackTraces` (`'await'`). */
  readonly nsPerRequestReply: number
  /** The same, plus the JSON serialise/parse of each message the wire would do. */
  readonly nsPerRequestReplyWithJson: number
  /** The same with `stackTraces: false`: no awaiting frames for a failed send either. */
  readonly nsPerRequestReplyWithoutStacks: number
}

/**
 * Measures what core itself costs per request/reply: two `Relay`s, one `await send()` at a
 * time, the reply sent from the handler, over a direct transport that hands each message to
 * the other relay synchronously (after `parseEnvelope`, as a listener would). No sockets and
 * no `setImmediate` hop, unlike `MemoryBus`, so the figure is core's CPU cost per
 * request/reply, to set beside one HTTP hop.
 *
 * @example
 * ```ts
 * const result = await runCoreMicro({ iterations: 200_000, warmup: 20_000 })
 * console.log(`${result.nsPerRequestReply} ns per request/reply`)
 * ```
 */
export async function runCoreMicro(options: CoreMicroOptions): Promise<CoreMicroResult> {
  // The default stackTraces ('await'): nothing captured per send.
  const nsPerRequestReply = await measureCore(false, 'await', options)
  const nsPerRequestReplyWithJson = await measureCore(true, 'await', options)
  const nsPerRequestReplyWithoutStacks = await measureCore(false, false, options)
  return {
    iterations: options.iterations,
    nsPerRequestReply,
    nsPerRequestReplyWithJson,
    nsPerRequestReplyWithoutStacks,
  }
}

/**
 * Nanoseconds per request/reply of one variant: with or without the JSON codec of the wire,
 * with one `stackTraces` setting or another. `warmup` request/replies run first.
 */
export async function measureCore(
  json: boolean,
  stackTraces: boolean | 'await',
  options: CoreMicroOptions,
): Promise<number> {
  const bus = new DirectBus(json)
  const users = new Relay({ serviceName: 'users', transport: bus.transport() })
  users.registerHandler(REQUEST_NAME, (payload, { reply }) => reply(REPLY_NAME, payload))
  const web = new Relay({ serviceName: 'web', transport: bus.transport(), stackTraces })
  await users.listen(0)
  await web.listen(0)
  try {
    for (let i = 0; i < options.warmup; i++) await web.send(REQUEST_NAME, PAYLOAD)
    const start = process.hrtime.bigint()
    for (let i = 0; i < options.iterations; i++) await web.send(REQUEST_NAME, PAYLOAD)
    return Number(process.hrtime.bigint() - start) / options.iterations
  } finally {
    await web.close()
    await users.close()
  }
}

const SENT: Promise<void> = Promise.resolve()

/** Connects exactly two relays: whatever one sends, the other receives, synchronously. */
class DirectBus {
  readonly #json: boolean
  readonly #endpoints: Endpoint[] = []

  constructor(json: boolean) {
    this.#json = json
  }

  transport(): Transport {
    let own: Endpoint | undefined
    return {
      listen: (endpoint: Endpoint): Promise<ListenInfo> => {
        own = endpoint
        this.#endpoints.push(endpoint)
        return Promise.resolve({ port: 0 })
      },
      send: (envelope: OutgoingEnvelope): Promise<void> => {
        try {
          this.#deliver(own!, envelope)
          return SENT
        } catch (error) {
          return Promise.reject(error)
        }
      },
      close: (): Promise<void> => {
        this.#endpoints.splice(this.#endpoints.indexOf(own!), 1)
        return SENT
      },
    }
  }

  #deliver(from: Endpoint, envelope: OutgoingEnvelope): void {
    const body = this.#json
      ? JSON.parse(JSON.stringify(envelopeBody(envelope)))
      : envelopeBody(envelope)
    const message = parseEnvelope(envelope.name, body)
    const to = this.#endpoints.find((endpoint) => endpoint !== from)
    if (to === undefined) throw new Error(`Nobody receives '${envelope.name}'.`)
    const receipt = to.receive(message)
    if (receipt.status !== 'accepted') throw receipt.error
  }
}
