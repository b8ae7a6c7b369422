import type { RegistrationCounts } from './flood.js'
import type { LoadOptions, LoadResult } from './load.js'

/** CPU time and resident memory of one process at one moment. */
export interface Usage {
  /** User + system CPU time since the process started, in microseconds. */
  readonly cpuMicros: number
  readonly rssBytes: number
}

/** What the parent asks a child to do. */
export type Command =
  | { readonly type: 'usage' }
  | { readonly type: 'load'; readonly options: LoadOptions }
  | { readonly type: 'routes'; readonly routes: Readonly<Record<string, number>> }
  /** The registration flood's counts since the previous reading (which it resets). */
  | { readonly type: 'registrations' }
  | { readonly type: 'stop' }

/** What each command answers. */
export interface CommandResults {
  usage: Usage
  load: LoadResult
  routes: undefined
  registrations: RegistrationCounts
  stop: undefined
}

export interface CommandMessage {
  readonly seq: number
  readonly command: Command
}

export type AnswerMessage =
  | { readonly seq: number; readonly ok: true; readonly value: unknown }
  | { readonly seq: number; readonly ok: false; readonly error: string }

/** The first message of every child: it is ready, and listens on `port` (0 if it doesn't). */
export interface ReadyMessage {
  readonly ready: true
  readonly port: number
}

// How a parent tells a child where the bus is.
/** The HTTP bus's port, for the floor's and ExoRelay's services. */
export const ENV_BUS_PORT = 'BENCH_BUS_PORT'
/** `false` starts ExoRelay's bus and services without the batch extension (decision 0011). */
export const ENV_BATCHES = 'BENCH_BATCHES'
/** `host:port` of nats-server, for the NATS services. */
export const ENV_NATS_SERVER = 'BENCH_NATS_SERVER'
/** How many services the registration flood re-registers each second. */
export const ENV_FLOOD_SERVICES = 'BENCH_FLOOD_SERVICES'
/** How many clients follow the bus's event stream (`GET /events`) in `exorelay-events-*`. */
export const ENV_EVENT_CLIENTS = 'BENCH_EVENT_CLIENTS'
/**
 * `api` or `sdk`: ExoRelay's services run `@exorelay/opentelemetry`, without or with an
 * OpenTelemetry SDK (`src/telemetry.ts`); unset, they load nothing of OpenTelemetry.
 */
export const ENV_TELEMETRY = 'BENCH_TELEMETRY'
/**
 * `true` (`--no-stacks`): the requesting services give a failed request no caller's frames
 * (ExoRelay's `stackTraces: false`, nats.js's `noAsyncTraces: true`); unset, every library runs
 * with its default (nats.js captures a stack per request, ExoRelay takes the awaiting frames).
 */
export const ENV_NO_STACKS = 'BENCH_NO_STACKS'
/** `nats` or `tcp`: the transporter of the Moleculer brokers. */
export const ENV_MOLECULER_TRANSPORTER = 'BENCH_MOLECULER_TRANSPORTER'
/** For the TCP transporter's requester: the responder's `host:port/nodeID`, its static peer. */
export const ENV_MOLECULER_PEER = 'BENCH_MOLECULER_PEER'
/** Bytes of the JSON payload every service sends (`npm run curves`); unset, the usual 96. */
export const ENV_PAYLOAD_BYTES = 'BENCH_PAYLOAD_BYTES'
/** Services besides the benchmark's own that ExoCom must hold (the routes curve): raises `maxServices`. */
export const ENV_EXTRA_SERVICES = 'BENCH_EXTRA_SERVICES'
/** How many receiving services the fan-out curve's receivers process runs, and the requester waits for. */
export const ENV_FAN_OUT = 'BENCH_FAN_OUT'
