import type { AddressInfo } from 'node:net'
import {
  capConnections,
  listenError,
  protocolServerOptions,
} from '@exorelay/fastify-listener/internal'
import { closeCuttingStalled, type ServiceRegistration } from '@exorelay/http-protocol'
import Fastify from 'fastify'
import { Deliverer } from './delivery.js'
import { addDevPage } from './dev-page.js'
import { EventStream } from './event-stream.js'
import { addIdentityChecks, type Identities } from './identity.js'
import { addBusIngress, SENTENCES } from './ingress.js'
import { Liveness } from './liveness.js'
import { type Credentials, checkExoComOptions, type ExoComOptions } from './options.js'
import { addRegistrationRoutes } from './registration.js'
import { type ExoComConfig, RoutingTable, validateServices } from './routing-table.js'
import { addStatusRoutes } from './status.js'

export type { ExoComCredentials, ExoComOptions, RegistrationAddresses } from './options.js'
export { DEFAULT_EXOCOM_PORT } from './options.js'

/** A running ExoCom. */
export interface ExoCom {
  /** The bound port (the real one when `port: 0` was asked for). */
  readonly port: number
  /** Where services reach the bus, e.g. `http://127.0.0.1:3100`. */
  readonly url: string
  /** The current routing table in the `GET /config.json` shape. */
  config(): ExoComConfig
  /**
   * Sets the operator's routing table (same as `POST /services`): it replaces every configured
   * entry; services that registered themselves and are not in it stay. Throws an
   * `InvalidArgumentError` (code `INVALID_OPTION`) naming the bad entry; the table then stays
   * as it was.
   */
  setServices(services: ServiceRegistration[]): void
  /**
   * Graceful: at once answers new `POST /send` with 503 (`EXORELAY_ERR_BUS_CLOSING`,
   * `ExoCom is shutting down`), ends every event stream (`GET /events`), sends at once what waits for a batch, waits for the
   * deliveries in flight (each bounded by `deliveryTimeout`), closes the delivery pools, then
   * frees the port; a connection whose request is still not complete `requestTimeout` later
   * is cut off. Idempotent.
   */
  close(): Promise<void>
}

/**
 * Starts an ExoCom: the bus that routes named messages between ExoRelay services over the
 * ExoCom HTTP protocol. Rejects with a `ListenError` (code `ADDRESS_IN_USE`) when the port is
 * taken, and with an `InvalidArgumentError` (code `INVALID_OPTION`) for a bad option.
 *
 * @example
 * ```ts
 * import { startExoCom } from '@exorelay/exocom'
 *
 * const exocom = await startExoCom({
 *   port: 3100,
 *   services: [
 *     { name: 'web', host: '127.0.0.1', port: 4000, receives: ['users.created'] },
 *     { name: 'users', host: '127.0.0.1', port: 4001, receives: ['users.create'] },
 *   ],
 * })
 * console.log(`ExoCom at ${exocom.url}`)
 * // later
 * await exocom.close()
 * ```
 */
export async function startExoCom(options: ExoComOptions = {}): Promise<ExoCom> {
  const {
    port,
    host,
    bodyLimit,
    requestTimeout,
    token,
    credentials,
    registrationAddresses,
    batches,
    maxServices,
    maxInstances,
    ui,
    events: eventsOn,
    eventsBuffer,
    maxEventClients,
    eventPreview,
    ...settings
  } = checkExoComOptions(options)
  const log = settings.logger
  const events = new EventStream({
    logger: log,
    buffer: eventsBuffer,
    maxClients: maxEventClients,
    preview: eventPreview,
  })
  const table = new RoutingTable(settings.services, { maxServices, maxInstances })
  // Created once the ingress can route what it says; a delivery fails only after that.
  let liveness: Liveness | undefined
  const deliverer = new Deliverer({
    onUnreachable: (delivery, message, since) =>
      liveness?.unreachable(delivery, message, since) ?? false,
    onTokenRefused: (delivery, message) => liveness?.tokenRefused(delivery, message),
    timeout: settings.deliveryTimeout,
    logger: log,
    events,
    token,
    // Identity mode: each receiver gets its own token. A service without one can only be in
    // the table by the operator's doing (its token registered it, or its table named it), so
    // the operator's token goes only to addresses the operator named: a test driver or an
    // admin tool that runs a relay with the operator's token takes its replies with it.
    ...(credentials !== undefined && {
      tokenOf: (service) => credentials.services.get(service) ?? credentials.operator,
    }),
    batches,
    batchAfter: settings.batchAfter,
    maxPending: settings.maxPending,
    maxPendingBytes: settings.maxPendingBytes,
  })
  let closing: Promise<void> | undefined

  const app = Fastify({
    ...protocolServerOptions({ requestTimeout, bodyLimit, texts: SENTENCES, logger: log }),
    bodyLimit,
  })
  // Before the ingress's routes: every request is identified before anything else runs.
  const identities: Identities | undefined =
    credentials === undefined
      ? undefined
      : addIdentityChecks(app, { credentials, registrationAddresses, logger: log })
  const route = addBusIngress(app, {
    identities,
    table,
    deliverer,
    events,
    logger: log,
    bodyLimit,
    batches,
    token,
    closing: () => closing !== undefined,
  })
  // Beyond it Node closes a new connection at once: idle connections cannot take every
  // descriptor the deliveries need.
  capConnections(app.server, settings.maxConnections, log)
  const registrations = addRegistrationRoutes(app, {
    table,
    deliverer,
    events,
    logger: log,
    batches,
  })
  addStatusRoutes(app, table)
  if (ui) addDevPage(app)
  if (eventsOn) events.addRoute(app, () => closing !== undefined)
  liveness = new Liveness({
    table,
    logger: log,
    events,
    route,
    dropped: () => deliverer.retain(table.registrations()),
    redeliver: (delivery, message) => deliverer.deliver(delivery, message),
    identity: credentials !== undefined,
  })

  let bound: number
  try {
    await app.listen({ port, host })
    bound = (app.server.address() as AddressInfo).port
  } catch (cause) {
    liveness.close()
    await app.close().catch(() => {})
    await deliverer.close()
    throw listenError(
      cause,
      // `port <N> is already in use`: the original's words, which scripts look for.
      `ExoCom cannot listen on port ${port} of '${host}': port ${port} is already in use. ` +
        'Stop the process that holds it, or choose another port.',
      (reason) => `ExoCom cannot listen on port ${port} of '${host}': ${reason}.`,
    )
  }
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`
  log.info(
    {
      port: bound,
      url,
      auth: credentials !== undefined ? 'credentials' : token === undefined ? 'none' : 'token',
    },
    // `online at port <N>` is the text the original's orchestrator waits for.
    `ExoCom online at port ${bound} (${url})${credentials === undefined ? '' : `, identity mode: ${identitySummary(credentials)}`}`,
  )
  if (credentials !== undefined && credentials.operator === undefined) {
    log.warn(
      { auth: 'credentials' },
      'The credentials name no operator: nobody can read the routing table (GET /config.json) or set it (POST /services), and a service can be withdrawn only by itself. Add "operator" with a token of its own to the credentials to allow that.',
    )
  }

  return {
    port: bound,
    url,
    config: () => table.config(),
    setServices: (services) => registrations.configure(validateServices(services)),
    close: () => {
      closing ??= (async () => {
        // `closing` is set: from here /send answers 503, so no new delivery starts. The port
        // stays open while the deliveries in flight finish, so a late sender gets that 503
        // rather than a hang; then the port is freed.
        log.info({ port: bound }, 'ExoCom shutting down')
        // At once: a client of the stream is no delivery to wait for.
        events.close()
        liveness?.close()
        await deliverer.close()
        // A client stalling halfway through a request must not hold close() for ever.
        await closeCuttingStalled(app.server, requestTimeout, () => app.close())
        log.info({ port: bound }, 'ExoCom offline')
      })()
      return closing
    },
  }
}

/** `3 services with credentials, and an operator`: what the start line says of identity mode. */
function identitySummary(credentials: Credentials): string {
  const count = credentials.services.size
  const services = `${count} ${count === 1 ? 'service' : 'services'} with credentials`
  return credentials.operator === undefined
    ? `${services}, and no operator`
    : `${services}, and an operator`
}
