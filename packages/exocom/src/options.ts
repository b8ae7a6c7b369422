import {
  checkPort,
  ErrorCodes,
  InvalidArgumentError,
  type Logger,
  MAX_SERVICE_NAME_LENGTH,
  silentLogger,
} from '@exorelay/core'
import {
  checkBoolean,
  checkInteger,
  checkNonEmptyString,
  defaultLogFormat,
  describeValue,
} from '@exorelay/core/internal'
import {
  checkRequestTimeout,
  checkToken,
  DEFAULT_BATCH_AFTER,
  type ServiceRegistration,
} from '@exorelay/http-protocol'
import { pino } from 'pino'
import pretty from 'pino-pretty'
import { DEFAULT_MAX_PENDING, DEFAULT_MAX_PENDING_BYTES } from './delivery.js'
import { isLoopbackHost } from './dev-page.js'
import { validateServices } from './routing-table.js'

/** The port the original ExoCom was usually started on. */
export const DEFAULT_EXOCOM_PORT = 3100
const DEFAULT_MAX_SERVICES = 1000
const DEFAULT_MAX_INSTANCES = 64
const DEFAULT_MAX_CONNECTIONS = 4096
const DEFAULT_EVENTS_BUFFER = 1024 * 1024
const DEFAULT_MAX_EVENT_CLIENTS = 100

/**
 * Per-service credentials (identity mode, decision 0018): a token for each service, and one for
 * the operator. A request's credential says who sent it.
 *
 * @example
 * ```ts
 * const credentials: ExoComCredentials = {
 *   operator: process.env.EXOCOM_OPERATOR_TOKEN,
 *   services: { web: process.env.WEB_TOKEN!, users: process.env.USERS_TOKEN! },
 * }
 * ```
 */
export interface ExoComCredentials {
  /**
   * The operator's token: it may set the routing table (`POST /services`), read it
   * (`GET /config.json`), register and withdraw any service, and send under any sender name
   * (tools that speak for a service need that). Default: none (nobody may).
   */
  operator?: string | undefined
  /** Service name → that service's token. Each token is visible ASCII without spaces, and its own. */
  services: Record<string, string>
}

/** Which address a service may register in identity mode; see `registrationAddresses`. */
export type RegistrationAddresses = 'connection' | 'any'

/** The longest preview of a payload an event may carry: 64 KiB, a preview and no more. */
const MAX_EVENT_PREVIEW = 65_536

/** Options of {@link startExoCom}. Every one is optional. */
export interface ExoComOptions {
  /**
   * The port to listen on; `0` picks a free one.
   * @default `3100`
   */
  port?: number
  /**
   * The interface to listen on. Loopback by default: a development bus is not exposed.
   * @default `'127.0.0.1'`
   */
  host?: string
  /**
   * The initial routing table, as `POST /services` takes it.
   * @default `[]`
   */
  services?: ServiceRegistration[]
  /**
   * A pino-compatible logger, or `false` for silence. Env `LOG_FORMAT` (`pretty` or `json`)
   * overrides the default's format.
   * @default pino at `info`, pretty-printed (pino-pretty) when stdout is a terminal, JSON lines otherwise
   */
  logger?: Logger | false
  /**
   * Milliseconds a receiver may take to connect and answer `POST /run`.
   * @default `5_000`
   */
  deliveryTimeout?: number
  /**
   * Largest request body accepted, in bytes; larger ones get 413.
   * @default `1_048_576` (1 MiB)
   */
  bodyLimit?: number
  /**
   * The shared secret of the installation. When set, every request but `GET /status` must
   * carry `authorization: Bearer <token>` (else 401 `missing or invalid token`, before the
   * body is read), and every delivery (`POST /run`) carries it. Visible ASCII, no spaces;
   * never logged.
   * @default none (an open bus)
   */
  token?: string | undefined
  /**
   * Identity mode (decision 0018): a token per service, and one for the operator, instead of
   * the one shared `token` (setting both is an error). Every request but `GET /status` must
   * carry one of them (else 401), and the bus takes its sender from it:
   *
   * - `POST /send`: a message without `sender` gets the credential's service name; another
   *   `sender` is refused with 403 (`EXORELAY_ERR_AUTH_FORBIDDEN`), each message of a batch
   *   alone. The operator may send under any name.
   * - `PUT` / `DELETE /services/<name>`: the credential of `<name>`, or the operator's.
   * - `POST /services`, `GET /config.json`: the operator's only.
   * - A registration names its own connection's address (see `registrationAddresses`).
   * - A delivery to a service carries that service's token (`authorization: Bearer <its
   *   token>`), so a relay whose `token` is its own credential both sends with it and takes
   *   deliveries with it. A service without a credential of its own (only the operator can
   *   have registered it, or named it in the table) gets deliveries with the operator's token,
   *   so a relay that runs with the operator's token (a test driver) takes its replies.
   *
   * Tokens are never logged.
   * @default none
   */
  credentials?: ExoComCredentials | undefined
  /**
   * In identity mode, which `host` a service may register: `'connection'` only the address its
   * registration comes from (an IP literal equal to it, or a host name all of whose addresses
   * are it; loopback addresses count as one), so that no client can make the bus post to
   * another machine; `'any'` any host (an operator who knows the addresses differ, e.g. behind
   * NAT). Registrations by the operator are never checked. Checked when a registration is new
   * or its host or port changed, not on every refresh. Only with `credentials`: set without
   * them, it is an error.
   * @default `'connection'`
   */
  registrationAddresses?: RegistrationAddresses | undefined
  /**
   * Milliseconds a client may take to send one whole request, headers and body. A client that
   * has not finished by then gets `408` (code `EXORELAY_ERR_PROTOCOL_INVALID_MESSAGE`) and its
   * connection is closed, so a client that stalls halfway (slowloris) cannot hold a
   * connection for ever. The bus checks about once a second, so the cut comes up to a second
   * late. `0` disables it (Node's 60 s limit for the headers still holds).
   * @default `10_000`
   */
  requestTimeout?: number
  /**
   * The batch extension (decision 0011): the bus answers registrations with
   * `{"batches":true}`, takes `POST /send` with a JSON array of messages, and sends a
   * receiver that registered with `batches: true` what waits for it as one `POST /run`. `false`
   * speaks the original protocol only.
   * @default `true`
   */
  batches?: boolean
  /**
   * Requests under way to a receiver that takes batches before further messages to it wait,
   * and leave together, as one batch, when one of those requests ends. Below it every message
   * goes out at once, alone. An integer of at least 1.
   * @default `2`
   */
  batchAfter?: number
  /**
   * Services the routing table holds at most, each instance of a service counting as one; a
   * registration of one more is refused with 400 (`EXORELAY_ERR_BUS_INVALID_REGISTRATION`)
   * naming this option. Each service lists at most 1,000 names, and one registration
   * (`PUT /services/<name>`) is at most 256 KiB, so a client cannot grow the table without
   * bound.
   * @default `1_000`
   */
  maxServices?: number
  /**
   * Instances one service may have (decision 0017); a registration of one more is refused
   * with 400 naming this option, so that one service cannot take every place of
   * `maxServices` from the others.
   * @default `64`
   */
  maxInstances?: number
  /**
   * Connections the bus keeps open at once; beyond it, a new connection is closed at once.
   * It keeps a flood of idle connections from taking every file descriptor of the process
   * (the bus needs some for its deliveries): keep it well under `ulimit -n`.
   * @default `4_096`
   */
  maxConnections?: number
  /**
   * Messages under way to one receiver at most (sent and not yet answered, or waiting for a
   * batch). A message routed to a receiver that has this many is refused, for all its
   * receivers, with 503 `EXORELAY_ERR_BUS_RECEIVER_BUSY` and `retry-after: 1`, and its send
   * rejects at once: the bus never accepts a message it would then have to drop. Each
   * delivery ends within `deliveryTimeout`, so a hung receiver holds at most this many.
   * @default `10_000`
   */
  maxPending?: number
  /**
   * Bytes of bodies (each message's JSON) under way to one receiver at most, so that a hung
   * receiver cannot grow the bus's memory by more than this; a message that would pass it is
   * refused as with `maxPending`. A receiver with nothing under way takes one message of any
   * size up to `bodyLimit`.
   * @default `67_108_864` (64 MiB)
   */
  maxPendingBytes?: number
  /**
   * The dev page at `GET /`: the services, the routes and a live list of the messages, in a
   * browser. It is open without a token, holds no data of the bus, and asks for the token to
   * read it. `false`: `GET /` is a 404.
   * @default `true` on a loopback `host` (`127.x.x.x`, `::1`, `localhost`), else `false`
   */
  ui?: boolean
  /**
   * The event stream, `GET /events` (Server-Sent Events): one event per message the bus
   * accepts, per delivery outcome, and per service registered, withdrawn or dropped, for
   * `exorelay tail`, the dev page or any tool. It needs the token like every other route (in
   * identity mode, the operator's), and shows no payload unless `eventPreview` says so. With
   * no client connected it costs nothing: no event is even built. `false`: no such route (404).
   * @default `true`
   */
  events?: boolean
  /**
   * Bytes of events one client of `GET /events` may leave unread; a client past it (stalled, or
   * too slow for the traffic) is dropped, with one warning in the log. The bus never waits for
   * a client.
   * @default `1_048_576` (1 MiB)
   */
  eventsBuffer?: number
  /**
   * Clients of `GET /events` at once; one more is answered 503
   * (`EXORELAY_ERR_BUS_TOO_MANY_EVENT_CLIENTS`).
   * @default `100`
   */
  maxEventClients?: number
  /**
   * Bytes of each message's payload (its JSON) that its event on `GET /events` shows, as
   * `preview`, cut between characters and ended with `…` when longer. Payloads may hold
   * personal data: keep it off where the stream's clients should not read them. At most 65,536:
   * a preview, not a copy of the traffic.
   * @default `0` (off: no preview)
   */
  eventPreview?: number
}

/** The options of a bus once checked, with their defaults filled in. */
export interface ExoComSettings {
  readonly port: number
  readonly host: string
  readonly services: ServiceRegistration[]
  readonly logger: Logger
  readonly deliveryTimeout: number
  readonly bodyLimit: number
  readonly token: string | undefined
  readonly credentials: Credentials | undefined
  readonly registrationAddresses: RegistrationAddresses
  readonly requestTimeout: number
  readonly batches: boolean
  readonly batchAfter: number
  readonly maxServices: number
  readonly maxInstances: number
  readonly maxConnections: number
  readonly maxPending: number
  readonly maxPendingBytes: number
  readonly ui: boolean
  readonly events: boolean
  readonly eventsBuffer: number
  readonly maxEventClients: number
  readonly eventPreview: number
}

/**
 * Checks the options of {@link startExoCom} with core's option checks, and fills in the
 * defaults. Throws an `InvalidArgumentError` (code `INVALID_OPTION`) for a bad one.
 */
export function checkExoComOptions(options: ExoComOptions): ExoComSettings {
  const credentials =
    options.credentials === undefined
      ? undefined
      : checkCredentials(options.credentials, 'the credentials option')
  if (credentials !== undefined && options.token !== undefined) {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      'The token and credentials options cannot both be set: token is one secret that every service shares, credentials give each service its own. Keep one of them (credentials for identity mode); for the exocom command, --token or EXOCOM_TOKEN, and --credentials or EXOCOM_CREDENTIALS.',
    )
  }
  const registrationAddresses = options.registrationAddresses ?? 'connection'
  if (registrationAddresses !== 'connection' && registrationAddresses !== 'any') {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      `The registrationAddresses option (--registration-addresses) must be 'connection' or 'any', got ${describeValue(registrationAddresses)}.`,
    )
  }
  if (options.registrationAddresses !== undefined && credentials === undefined) {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      'The registrationAddresses option (--registration-addresses) is a setting of identity mode, and no credentials are set: without them any client may register any address, and nothing is checked. Set credentials (--credentials <file> or EXOCOM_CREDENTIALS), or leave registrationAddresses out.',
    )
  }
  const host = checkNonEmptyString(options.host, 'host', '127.0.0.1')
  return {
    credentials,
    registrationAddresses,
    host,
    ui: checkBoolean(options.ui, 'ui', isLoopbackHost(host)),
    port: options.port === undefined ? DEFAULT_EXOCOM_PORT : checkPort(options.port),
    deliveryTimeout: checkInteger(options.deliveryTimeout, 'deliveryTimeout', 1, 5000),
    bodyLimit: checkInteger(options.bodyLimit, 'bodyLimit', 1, 1024 * 1024),
    requestTimeout: checkRequestTimeout(options.requestTimeout, 'The requestTimeout option'),
    token: checkToken(options.token, 'The token option'),
    batches: checkBoolean(options.batches, 'batches', true),
    batchAfter: checkInteger(options.batchAfter, 'batchAfter', 1, DEFAULT_BATCH_AFTER),
    maxServices: checkInteger(options.maxServices, 'maxServices', 1, DEFAULT_MAX_SERVICES),
    maxInstances: checkInteger(options.maxInstances, 'maxInstances', 1, DEFAULT_MAX_INSTANCES),
    maxConnections: checkInteger(
      options.maxConnections,
      'maxConnections',
      1,
      DEFAULT_MAX_CONNECTIONS,
    ),
    maxPending: checkInteger(options.maxPending, 'maxPending', 1, DEFAULT_MAX_PENDING),
    maxPendingBytes: checkInteger(
      options.maxPendingBytes,
      'maxPendingBytes',
      1,
      DEFAULT_MAX_PENDING_BYTES,
    ),
    events: checkBoolean(options.events, 'events', true),
    eventsBuffer: checkInteger(options.eventsBuffer, 'eventsBuffer', 1, DEFAULT_EVENTS_BUFFER),
    maxEventClients: checkInteger(
      options.maxEventClients,
      'maxEventClients',
      1,
      DEFAULT_MAX_EVENT_CLIENTS,
    ),
    eventPreview: checkInteger(options.eventPreview, 'eventPreview', 0, 0, MAX_EVENT_PREVIEW),
    services: validateServices(options.services ?? []),
    logger: options.logger === false ? silentLogger : (options.logger ?? createDefaultLogger()),
  }
}

function createDefaultLogger(): Logger {
  // Written synchronously, as Node writes to a pipe on Linux: an asynchronous destination
  // whose reader went away (`exocom | head -1`) makes pino's flush at exit retry the failed
  // write for ever (sonic-boom's flushSync retries any failed write), and the bus never exits.
  if (defaultLogFormat() === 'json') {
    return pino({ level: 'info' }, pino.destination({ dest: 1, sync: true }))
  }
  // On a terminal the message line is the point; the routing fields stay in JSON mode.
  const stream = pretty({
    colorize: true,
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore:
      'pid,hostname,sender,receiver,messageName,messageId,responseTo,internalName,sentName,services,port,url',
  })
  return pino({ level: 'info' }, stream)
}

/** Credentials once checked: each token of one service, or of the operator. */
export interface Credentials {
  readonly operator: string | undefined
  /** Service name → token. */
  readonly services: ReadonlyMap<string, string>
}

/**
 * Checks credentials (the option, or the CLI's file) and returns them. `where` names them in
 * errors: `'the credentials option'`, `"the credentials file 'x.json'"`. Throws an
 * `InvalidArgumentError` (code `INVALID_OPTION`) saying what is wrong; a token is never quoted.
 */
export function checkCredentials(value: unknown, where: string): Credentials {
  const shape = "{ operator?: '<token>', services: { '<service name>': '<token>' } }"
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidCredentials(
      `${capitalise(where)} must be an object ${shape}, got ${describeValue(value)}.`,
    )
  }
  // A misspelt key ("operater", "service") would otherwise leave a holder without its token,
  // and nothing would say why its requests are refused.
  const unknown = Object.keys(value).filter((key) => !CREDENTIALS_KEYS.includes(key))
  if (unknown.length > 0) {
    throw invalidCredentials(
      `${capitalise(where)} has the key ${unknown.map((key) => describeValue(key)).join(', ')}, which ExoCom does not know: the keys are ${CREDENTIALS_KEYS.map((key) => `'${key}'`).join(' and ')} (${shape}).`,
    )
  }
  const { operator, services } = value as { operator?: unknown; services?: unknown }
  if (services === null || typeof services !== 'object' || Array.isArray(services)) {
    const got = services === undefined ? "'services' is missing" : `got ${describeValue(services)}`
    throw invalidCredentials(
      `${capitalise(where)} needs 'services', an object of service name to token (${shape}): ${got}.`,
    )
  }
  // Who holds each token so far: a token identifies one holder, so it may not appear twice.
  const holders = new Map<string, string>()
  const hold = (token: string, holder: string): void => {
    const other = holders.get(token)
    if (other !== undefined) {
      throw invalidCredentials(
        `${capitalise(where)} gives ${other} and ${holder} the same token: a token says who sent a request, so each needs its own (e.g. openssl rand -hex 32).`,
      )
    }
    holders.set(token, holder)
  }
  const operatorToken = checkToken(operator, `The operator token in ${where}`)
  if (operatorToken !== undefined) hold(operatorToken, 'the operator')
  const tokens = new Map<string, string>()
  for (const [name, token] of Object.entries(services)) {
    if (name.length === 0 || name.length > MAX_SERVICE_NAME_LENGTH) {
      throw invalidCredentials(
        `${capitalise(where)} names a service ${describeValue(name)}: a service name has 1 to ${MAX_SERVICE_NAME_LENGTH} characters.`,
      )
    }
    const checked = checkToken(token, `The token of the service '${name}' in ${where}`)
    if (checked === undefined) {
      throw invalidCredentials(`${capitalise(where)} gives the service '${name}' no token.`)
    }
    hold(checked, `the service '${name}'`)
    tokens.set(name, checked)
  }
  if (operatorToken === undefined && tokens.size === 0) {
    throw invalidCredentials(
      `${capitalise(where)} names no service and no operator: nobody could use the bus. Give each service a token under 'services'.`,
    )
  }
  return { operator: operatorToken, services: tokens }
}

/** The keys of a credentials object (and file). */
const CREDENTIALS_KEYS: readonly string[] = ['operator', 'services']

function invalidCredentials(message: string): InvalidArgumentError {
  return new InvalidArgumentError(ErrorCodes.INVALID_OPTION, message)
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
