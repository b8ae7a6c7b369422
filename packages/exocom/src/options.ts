import { checkPort, type Logger, silentLogger } from '@exorelay/core'
import { checkBoolean, checkInteger, checkNonEmptyString } from '@exorelay/core/internal'
import {
  checkRequestTimeout,
  checkToken,
  DEFAULT_BATCH_AFTER,
  type ServiceRegistration,
} from '@exorelay/http-protocol'
import { pino } from 'pino'
import pretty from 'pino-pretty'
import { validateServices } from './routing-table.js'

/** The port the original ExoCom was usually started on. */
export const DEFAULT_EXOCOM_PORT = 3100
const DEFAULT_MAX_SERVICES = 1000
const DEFAULT_MAX_CONNECTIONS = 4096

/** Options of {@link startExoCom}. Every one is optional. */
export interface ExoComOptions {
  /** The port to listen on; `0` picks a free one. Default `3100`. */
  port?: number
  /** The interface to listen on. Default `'127.0.0.1'`: a development bus is not exposed. */
  host?: string
  /** The initial routing table, as `POST /services` takes it. Default: empty. */
  services?: ServiceRegistration[]
  /**
   * A pino-compatible logger, or `false` for silence. Default: pino at `info`, pretty-printed
   * (pino-pretty) when stdout is a terminal, JSON lines otherwise.
   */
  logger?: Logger | false
  /** Milliseconds a receiver may take to connect and answer `POST /run`. Default `5000`. */
  deliveryTimeout?: number
  /** Largest request body accepted, in bytes; larger ones get 413. Default 1 MiB. */
  bodyLimit?: number
  /**
   * The shared secret of the installation. When set, every request but `GET /status` must
   * carry `authorization: Bearer <token>` (else 401 `missing or invalid token`, before the
   * body is read), and every delivery (`POST /run`) carries it. Visible ASCII, no spaces;
   * never logged. Default: none (an open bus).
   */
  token?: string | undefined
  /**
   * Milliseconds a client may take to send one whole request, headers and body. A client that
   * has not finished by then gets `408` (code `EXORELAY_ERR_PROTOCOL_INVALID_MESSAGE`) and its
   * connection is closed, so a client that stalls halfway (slowloris) cannot hold a
   * connection for ever. The bus checks about once a second, so the cut comes up to a second
   * late. `0` disables it (Node's 60 s limit for the headers still holds). Default `10_000`.
   */
  requestTimeout?: number
  /**
   * The batch extension (decision 0011): the bus answers registrations with
   * `{"batches":true}`, takes `POST /send` with a JSON array of messages, and sends a
   * receiver that registered with `batches: true` what waits for it as one `POST /run`. `false`
   * speaks the original protocol only. Default `true`.
   */
  batches?: boolean
  /**
   * Requests under way to a receiver that takes batches before further messages to it wait,
   * and leave together, as one batch, when one of those requests ends. Below it every message
   * goes out at once, alone. An integer of at least 1. Default `2`.
   */
  batchAfter?: number
  /**
   * Services the routing table holds at most; a registration of one more is refused with 400
   * (`EXORELAY_ERR_BUS_INVALID_REGISTRATION`) naming this option. Each service lists at most
   * 1,000 names, and one registration (`PUT /services/<name>`) is at most 256 KiB, so a client
   * cannot grow the table without bound. Default `1000`.
   */
  maxServices?: number
  /**
   * Connections the bus keeps open at once; beyond it, a new connection is closed at once.
   * It keeps a flood of idle connections from taking every file descriptor of the process
   * (the bus needs some for its deliveries): keep it well under `ulimit -n`. Default `4096`.
   */
  maxConnections?: number
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
  readonly requestTimeout: number
  readonly batches: boolean
  readonly batchAfter: number
  readonly maxServices: number
  readonly maxConnections: number
}

/**
 * Checks the options of {@link startExoCom} with core's option checks, and fills in the
 * defaults. Throws an `InvalidArgumentError` (code `INVALID_OPTION`) for a bad one.
 */
export function checkExoComOptions(options: ExoComOptions): ExoComSettings {
  return {
    port: options.port === undefined ? DEFAULT_EXOCOM_PORT : checkPort(options.port),
    host: checkNonEmptyString(options.host, 'host', '127.0.0.1'),
    deliveryTimeout: checkInteger(options.deliveryTimeout, 'deliveryTimeout', 1, 5000),
    bodyLimit: checkInteger(options.bodyLimit, 'bodyLimit', 1, 1024 * 1024),
    requestTimeout: checkRequestTimeout(options.requestTimeout, 'The requestTimeout option'),
    token: checkToken(options.token, 'The token option'),
    batches: checkBoolean(options.batches, 'batches', true),
    batchAfter: checkInteger(options.batchAfter, 'batchAfter', 1, DEFAULT_BATCH_AFTER),
    maxServices: checkInteger(options.maxServices, 'maxServices', 1, DEFAULT_MAX_SERVICES),
    maxConnections: checkInteger(
      options.maxConnections,
      'maxConnections',
      1,
      DEFAULT_MAX_CONNECTIONS,
    ),
    services: validateServices(options.services ?? []),
    logger: options.logger === false ? silentLogger : (options.logger ?? createDefaultLogger()),
  }
}

function createDefaultLogger(): Logger {
  // Written synchronously, as Node writes to a pipe on Linux: an asynchronous destination
  // whose reader went away (`exocom | head -1`) makes pino's flush at exit retry the failed
  // write for ever (sonic-boom's flushSync retries any failed write), and the bus never exits.
  if (!process.stdout.isTTY) {
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
