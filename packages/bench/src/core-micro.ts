import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import {
  type Contract,
  type Endpoint,
  envelopeBody,
  type ListenInfo,
  type OutgoingEnvelope,
  parseEnvelope,
  Relay,
  type Transport,
} from '@exorelay/core'
import { PAYLOAD, REPLY_NAME, REQUEST_NAME } from './payload.js'
import { type BenchMessages, VALIDATORS, type ValidatorName } from './payload-contract.js'

/** How long the micro-benchmark runs. */
export interface CoreMicroOptions {
  /** Request/replies measured per variant. */
  readonly iterations: number
  /** Request/replies run first and thrown away, so the JIT has optimised the path. */
  readonly warmup: number
}

const VALIDATOR_NAMES = Object.keys(VALIDATORS) as ValidatorName[]

/**
 * Nanoseconds per request/reply through two `Relay`s given a contract in one validator, and
 * without a contract, measured just before: each in a fresh process of its own, the two seconds
 * apart, so that their difference is validation's.
 */
export interface ValidationResult {
  readonly validator: ValidatorName
  /** Whether both relays also validate what they send (the default outside production). */
  readonly validateOutgoing: boolean
  /**
   * Validations per request/reply: 2 without `validateOutgoing` (the payload by the receiving
   * relay, the reply by the requesting one), 4 with it (each message by its sender too).
   */
  readonly validations: number
  readonly nsPerRequestReply: number
  /** The same two relays without a contract, measured just before in a process of its own. */
  readonly nsPerRequestReplyWithoutContract: number
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
  /**
   * The first figure's setup with a contract, per validator, without and with
   * `validateOutgoing`, each beside the same without a contract: what validation costs.
   */
  readonly validation: readonly ValidationResult[]
}

/**
 * Measures what core itself costs per request/reply: two `Relay`s, one `await send()` at a
 * time, the reply sent from the handler, over a direct transport that hands each message to
 * the other relay synchronously (after `parseEnvelope`, as a listener would). No sockets and
 * no `setImmediate` hop, unlike `MemoryBus`, so the figure is core's CPU cost per
 * request/reply, to set beside one HTTP hop. Then the same with a contract (zod, valibot),
 * without and with `validateOutgoing`, each after the same without one, each in a fresh process.
 *
 * @example
 * ```ts
 * const result = await runCoreMicro({ iterations: 200_000, warmup: 20_000 })
 * console.log(`${result.nsPerRequestReply} ns per request/reply`)
 * ```
 */
export async function runCoreMicro(options: CoreMicroOptions): Promise<CoreMicroResult> {
  // The default stackTraces ('await'): nothing captured per send.
  const nsPerRequestReply = await measureCore({}, options)
  const nsPerRequestReplyWithJson = await measureCore({ json: true }, options)
  const nsPerRequestReplyWithoutStacks = await measureCore({ stackTraces: false }, options)
  const validation: ValidationResult[] = []
  for (const validator of VALIDATOR_NAMES) {
    for (const validateOutgoing of [false, true]) {
      const nsPerRequestReplyWithoutContract = await measureApart('none', false, options)
      validation.push({
        validator,
        validateOutgoing,
        validations: validateOutgoing ? 4 : 2,
        nsPerRequestReply: await measureApart(validator, validateOutgoing, options),
        nsPerRequestReplyWithoutContract,
      })
    }
  }
  return {
    iterations: options.iterations,
    nsPerRequestReply,
    nsPerRequestReplyWithJson,
    nsPerRequestReplyWithoutStacks,
    validation,
  }
}

const execFileAsync = promisify(execFile)
// The benchmark runs from its sources, through tsx (`npm run bench`).
const CHILD = fileURLToPath(new URL('./core-micro-child.ts', import.meta.url))

/**
 * Nanoseconds per request/reply of a contract variant (or of none), each in a fresh process:
 * in one process, relays without a contract measured after relays with one ran up to a quarter
 * slower than in a fresh process (the JIT had optimised the shared code for both), which
 * drowned a validation's cost; a service runs with its contract or without, never both.
 */
async function measureApart(
  validator: ValidatorName | 'none',
  validateOutgoing: boolean,
  options: CoreMicroOptions,
): Promise<number> {
  const args = [
    validator,
    String(validateOutgoing),
    String(options.iterations),
    String(options.warmup),
  ]
  const { stdout } = await execFileAsync(process.execPath, [
    '--import',
    import.meta.resolve('tsx'),
    CHILD,
    ...args,
  ])
  return Number(stdout)
}

/** What one measurement varies; left out, each is what a relay gets by default (no contract). */
export interface CoreVariant {
  /** Serialise and parse each message as JSON, as the wire does. */
  readonly json?: boolean
  /** The requesting relay's `stackTraces` (default `'await'`). */
  readonly stackTraces?: boolean | 'await'
  /** Given to both relays. */
  readonly contract?: Contract<BenchMessages>
  /** Both relays' `validateOutgoing`, set whatever `NODE_ENV` says. */
  readonly validateOutgoing?: boolean
}

/** Nanoseconds per request/reply of one variant. `warmup` request/replies run first. */
export async function measureCore(
  variant: CoreVariant,
  options: CoreMicroOptions,
): Promise<number> {
  const bus = new DirectBus(variant.json ?? false)
  const checks = { contract: variant.contract, validateOutgoing: variant.validateOutgoing ?? false }
  const users = new Relay<BenchMessages>({
    serviceName: 'users',
    transport: bus.transport(),
    ...checks,
  })
  users.registerHandler(REQUEST_NAME, (payload, { reply }) => reply(REPLY_NAME, payload))
  const web = new Relay<BenchMessages>({
    serviceName: 'web',
    transport: bus.transport(),
    stackTraces: variant.stackTraces ?? 'await',
    ...checks,
  })
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
