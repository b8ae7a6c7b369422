import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { type Envelope, ErrorCodes, type Logger } from '@exorelay/core'
import { describeValue } from '@exorelay/core/internal'
import { credentialCheck, sendErrorAnswer, wildcardOf } from '@exorelay/fastify-listener/internal'
import {
  type BatchResult,
  batchFailure,
  bearerIdentifier,
  type ErrorAnswer,
  statusOf,
} from '@exorelay/http-protocol'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { EVENTS_PATH } from './event-stream.js'
import type { Credentials, RegistrationAddresses } from './options.js'
import { validateService } from './routing-table.js'

/** Whom a request's credential belongs to: the operator, or one service. */
export type Identity =
  | { readonly operator: true }
  | { readonly operator: false; readonly service: string }

const OPERATOR: Identity = Object.freeze({ operator: true })
// What only the operator may do, by route (any method: HEAD too): the whole table, and
// everything that flows through the bus. A service's credential reads none of it.
const OPERATOR_ONLY: ReadonlyMap<string, string> = new Map([
  ['/config.json', 'read the routing table (GET /config.json)'],
  [EVENTS_PATH, 'follow the event stream (GET /events)'],
])
const FORBIDDEN_STATUS = statusOf(ErrorCodes.FORBIDDEN)
// The 401 of identity mode: the shared secret of the simple mode is not what this bus takes.
const UNAUTHORIZED_TEXT =
  "missing or invalid token: this bus takes a token per service (its credentials file), or the operator's; give each relay its own service's token (EXOCOM_TOKEN, the token option)"
// Registrations whose address was checked, as `name host port connection`: a relay
// registers again every few seconds, and only a new or moved one is looked at again. Bounded:
// past this many, the memory starts over (the next registrations are checked again).
const MAX_VERIFIED = 10_000
/** Milliseconds a registration's host name may take to resolve, waiting for a turn included. */
export const LOOKUP_TIMEOUT = 2_000
// Lookups under way at once: `dns.lookup` runs on libuv's threadpool (4 threads by default),
// which file system calls and crypto share, and it has no timeout of its own.
const MAX_LOOKUPS = 4
// Registrations waiting for a turn at most; beyond, one is refused at once.
const MAX_WAITING_LOOKUPS = 64

/** What the rest of the bus asks of identity mode. */
export interface Identities {
  /**
   * The sender a message of `request` goes out with: the credential's service when the body
   * names none or that one; a refusal (403, an object) when it names another one. The
   * operator sends as the body says.
   */
  sender(request: FastifyRequest, envelope: Envelope): string | undefined | BatchResult
}

/**
 * Identity mode (decision 0018): every request but `GET /status` carries the token of a
 * service or of the operator, and what the request may do follows from whose it is. Routes
 * and owners are decided in `onRequest`, before the body is read; the address of a
 * registration once its body is there (`preHandler`), before the route changes the table.
 */
export function addIdentityChecks(
  app: FastifyInstance,
  options: {
    credentials: Credentials
    registrationAddresses: RegistrationAddresses
    logger: Logger
  },
): Identities {
  const { credentials, registrationAddresses } = options
  const log = options.logger
  const identities = new WeakMap<FastifyRequest, Identity>()
  const entries: Array<[string, Identity]> = [...credentials.services].map(([service, token]) => [
    token,
    { operator: false, service },
  ])
  if (credentials.operator !== undefined) entries.push([credentials.operator, OPERATOR])
  const identify = bearerIdentifier(entries)
  const verified = new Set<string>()
  const lookups = new HostLookups()

  const forbid = (request: FastifyRequest, reply: FastifyReply, text: string): void => {
    const identity = identities.get(request)
    log.warn(
      {
        method: request.method,
        url: request.url,
        credential: identity === undefined ? undefined : holderOf(identity),
        status: FORBIDDEN_STATUS,
        code: ErrorCodes.FORBIDDEN,
      },
      `request refused: ${text}`,
    )
    sendErrorAnswer(reply, forbidden(text))
  }

  app.addHook(
    'onRequest',
    credentialCheck(
      identify,
      log,
      (identity, request, reply) => {
        if (identity === undefined) return
        identities.set(request, identity)
        if (identity.operator) return
        const { service } = identity
        const route = request.routeOptions.url
        const { method } = request
        const operatorOnly =
          route === '/services' && method === 'POST'
            ? 'set the routing table (POST /services)'
            : OPERATOR_ONLY.get(route ?? '')
        if (operatorOnly !== undefined) {
          forbid(
            request,
            reply,
            `Only the operator's credential may ${operatorOnly}; this request carries the credential of the service '${service}'. Use the operator's token (credentials.operator).`,
          )
          return
        }
        if (route === '/services/*' && (method === 'PUT' || method === 'DELETE')) {
          const name = wildcardOf(request) ?? ''
          if (name === service) return
          forbid(
            request,
            reply,
            `The credential of the service '${service}' may not ${method === 'PUT' ? 'register' : 'withdraw'} ${describeValue(name)}: a service registers and withdraws only itself. Use the token of ${describeValue(name)}, or the operator's.`,
          )
        }
      },
      UNAUTHORIZED_TEXT,
    ),
  )

  if (registrationAddresses === 'connection') {
    app.addHook('preHandler', async (request, reply) => {
      if (request.routeOptions.url !== '/services/*' || request.method !== 'PUT') return
      const identity = identities.get(request)
      // The operator names whatever addresses its services have.
      if (identity === undefined || identity.operator) return
      const body = request.body as { host?: unknown; port?: unknown } | null | undefined
      const connection = normalAddress(request.socket.remoteAddress ?? '')
      const key = `${identity.service}\n${String(body?.host)}\n${String(body?.port)}\n${connection}`
      if (verified.has(key)) return
      let host: string
      try {
        host = validateService(body, 'The registration').host
      } catch {
        // The route refuses it with 400 and says why.
        return
      }
      const problem = await addressProblem(host, connection, lookups)
      if (problem !== undefined) {
        forbid(
          request,
          reply,
          `The registration of '${identity.service}' names the host ${describeValue(host)}, but its connection comes from '${connection}'${problem}: a service registers only the address it connects from. Register that address (EXORELAY_ADVERTISED_HOST), or start the bus with registrationAddresses: 'any' (the exocom command: --registration-addresses any).`,
        )
        return reply
      }
      if (verified.size >= MAX_VERIFIED) verified.clear()
      verified.add(key)
    })
  }

  return {
    sender(request, envelope) {
      const identity = identities.get(request)
      if (identity === undefined || identity.operator) return envelope.sender
      const { service } = identity
      if (envelope.sender === undefined || envelope.sender === '' || envelope.sender === service) {
        return service
      }
      const text = `The message ${describeValue(envelope.name)} names the sender ${describeValue(envelope.sender)}, but its credential is that of the service '${service}': a service sends under its own name. Leave 'sender' out (the bus fills it in), or send with the token of ${describeValue(envelope.sender)}.`
      log.warn(
        {
          sender: envelope.sender,
          credential: service,
          messageName: envelope.name,
          messageId: envelope.id,
          status: FORBIDDEN_STATUS,
          code: ErrorCodes.FORBIDDEN,
        },
        `message refused: ${text}`,
      )
      return batchFailure(FORBIDDEN_STATUS, ErrorCodes.FORBIDDEN, text)
    },
  }
}

function forbidden(text: string): ErrorAnswer {
  return { status: FORBIDDEN_STATUS, code: ErrorCodes.FORBIDDEN, text }
}

function holderOf(identity: Identity): string {
  return identity.operator ? 'operator' : identity.service
}

/**
 * Why `host` is not the address `connection`, or `undefined` when it is: an IP literal equal
 * to it, or a host name every address of which is it. Every address, because the bus may
 * deliver to any of them: a name that also resolves elsewhere would point the bus at another
 * machine. Loopback addresses count as one: `localhost` is 127.0.0.1 and ::1 alike.
 */
async function addressProblem(
  host: string,
  connection: string,
  lookups: HostLookups,
): Promise<string | undefined> {
  if (isIP(host) !== 0) {
    return sameMachine(normalAddress(host), connection) ? undefined : ''
  }
  let addresses: string[]
  try {
    addresses = (await lookups.resolve(host)).map((address) => normalAddress(address))
  } catch (error) {
    if (error instanceof LookupRefused) return ` (${error.message})`
    const code = (error as { code?: unknown }).code
    return ` (the host does not resolve: ${typeof code === 'string' ? code : String(error)})`
  }
  const others = addresses.filter((address) => !sameMachine(address, connection))
  if (others.length === 0 && addresses.length > 0) return undefined
  return ` (the host resolves to ${others.map((address) => `'${address}'`).join(', ')})`
}

/** An IP address in one spelling: `::ffff:127.0.0.1` is `127.0.0.1`, IPv6 compressed. */
export function normalAddress(address: string): string {
  let normal = address.toLowerCase()
  if (isIP(normal) === 6) {
    normal = new URL(`http://[${normal}]/`).hostname.slice(1, -1)
    // An IPv4-mapped address, which the URL writes in hex: `::ffff:7f00:1`.
    const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(normal)
    if (mapped !== null) {
      const high = Number.parseInt(mapped[1]!, 16)
      const low = Number.parseInt(mapped[2]!, 16)
      normal = `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`
    }
  }
  return normal
}

function sameMachine(a: string, b: string): boolean {
  return a === b || (isLoopback(a) && isLoopback(b))
}

function isLoopback(address: string): boolean {
  return address === '::1' || (isIP(address) === 4 && address.startsWith('127.'))
}

/** A host name the address check could not resolve in time, or had no turn for. */
export class LookupRefused extends Error {}

/**
 * The host-name lookups of the address check, bounded: at most `concurrency` at once, each
 * answered within `timeout` ms (its wait for a turn included), at most `maxWaiting` waiting.
 * A lookup that ran out of time still holds its turn until it ends: the threadpool thread it
 * runs on is busy until then, and the bound is on those threads.
 */
export class HostLookups {
  readonly #lookup: (host: string) => Promise<string[]>
  readonly #timeout: number
  readonly #concurrency: number
  readonly #maxWaiting: number
  readonly #waiting: Array<() => void> = []
  #active = 0

  constructor(
    options: {
      lookup?: (host: string) => Promise<string[]>
      timeout?: number
      concurrency?: number
      maxWaiting?: number
    } = {},
  ) {
    this.#lookup =
      options.lookup ??
      (async (host) => (await lookup(host, { all: true })).map(({ address }) => address))
    this.#timeout = options.timeout ?? LOOKUP_TIMEOUT
    this.#concurrency = options.concurrency ?? MAX_LOOKUPS
    this.#maxWaiting = options.maxWaiting ?? MAX_WAITING_LOOKUPS
  }

  /** Lookups running now (a settled deadline does not end one). */
  get active(): number {
    return this.#active
  }

  /** The addresses of `host`; rejects with a `LookupRefused` past the deadline or the bound. */
  resolve(host: string): Promise<string[]> {
    if (this.#active >= this.#concurrency && this.#waiting.length >= this.#maxWaiting) {
      return Promise.reject(
        new LookupRefused(
          `the bus is resolving ${this.#active} host names and ${this.#waiting.length} more wait: it checks no more at once; the registration is tried again`,
        ),
      )
    }
    return new Promise((resolve, reject) => {
      let settled = false
      const start = (): void => {
        this.#active++
        this.#lookup(host)
          .then(
            (addresses) => {
              if (settled) return
              settled = true
              clearTimeout(timer)
              resolve(addresses)
            },
            (error: unknown) => {
              if (settled) return
              settled = true
              clearTimeout(timer)
              reject(error)
            },
          )
          .finally(() => {
            this.#active--
            this.#next()
          })
      }
      // Not unref'd: the lookup it guards holds the process up for as long anyway.
      const timer = setTimeout(() => {
        settled = true
        const index = this.#waiting.indexOf(start)
        if (index !== -1) this.#waiting.splice(index, 1)
        reject(new LookupRefused(`the host did not resolve within ${this.#timeout} ms`))
      }, this.#timeout)
      if (this.#active < this.#concurrency) start()
      else this.#waiting.push(start)
    })
  }

  #next(): void {
    while (this.#active < this.#concurrency) {
      const start = this.#waiting.shift()
      if (start === undefined) return
      start()
    }
  }
}
