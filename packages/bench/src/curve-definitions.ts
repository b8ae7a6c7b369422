// The five curves of `npm run curves` (issue 19, goal 4): what each varies, which systems it
// starts in which shape, and what its table and chart show.
import { type CurvePhase, cpuPerRequest } from './curve-measure.js'
import { CURVE_SYSTEM_TITLES, type CurveSystemId, type PointShape } from './curve-systems.js'

export const CURVE_IDS = ['payload', 'in-flight', 'fan-out', 'routes', 'instances'] as const
export type CurveId = (typeof CURVE_IDS)[number]

/** One start of a system in a round: its shape, and the points measured on it in order. */
export interface PlannedStart {
  readonly system: CurveSystemId
  /** The line of the chart, and the rows of the table, its points belong to. */
  readonly series: string
  readonly shape: PointShape
  /** Each point's x and its phases' in-flight levels, in the order they run. */
  readonly points: readonly { readonly x: number; readonly inFlight: readonly number[] }[]
}

/** One column of a curve's table: a figure of one round of a point, from its phases. */
export interface Metric {
  readonly header: string
  value(phases: readonly CurvePhase[], x: number): number | undefined
}

export interface Curve {
  readonly id: CurveId
  readonly title: string
  /** What the curve varies and what it shows, for curves.md. */
  readonly description: string
  /** The header of the x column. */
  readonly xHeader: string
  formatX(x: number): string
  readonly starts: readonly PlannedStart[]
  readonly metrics: readonly Metric[]
  /** What the chart draws: one metric (by index) against x, one line per series. */
  readonly chart: {
    readonly metric: number
    readonly xLabel: string
    readonly yLabel: string
    readonly xScale: 'linear' | 'log'
    readonly yScale: 'linear' | 'log'
  }
}

/** The payload sizes of the payload curve, in bytes of JSON: 100 B to 1 MB. */
export const PAYLOAD_SIZES = [100, 10_000, 100_000, 1_000_000] as const
/** Requests in flight of the in-flight curve, measured on one start from 64 up, then down. */
export const IN_FLIGHT_LEVELS = [64, 256, 1024, 8, 1] as const
/** Receiving services of the fan-out curve. */
export const FAN_OUTS = [1, 4, 16] as const
/** Extra message names in the bus's table, and the extra services listing them. */
export const ROUTE_NAMES = [10, 1000, 10_000] as const
export const ROUTE_SERVICES = [10, 1000] as const
/** Processes of the answering service. */
export const INSTANCES = [1, 2, 4] as const

const THROUGHPUT = 64
const LATENCY = 1

const phaseAt = (phases: readonly CurvePhase[], inFlight: number) =>
  phases.find((phase) => phase.inFlight === inFlight)

const throughputAt = (inFlight: number): Metric => ({
  header: `req/s @${inFlight}`,
  value: (phases) => phaseAt(phases, inFlight)?.throughput,
})
const cpuAt = (inFlight: number, label?: string, header = 'CPU µs/req'): Metric => ({
  header,
  value: (phases) => {
    const phase = phaseAt(phases, inFlight)
    return phase === undefined ? undefined : cpuPerRequest(phase, label)
  },
})
/** The phase of a point that has one, whatever its level (the in-flight curve's points). */
const only = (phases: readonly CurvePhase[]) => phases[0]

/** `1 MB`, `100 KB`, `100 B`: decimal units, as the issue names the sizes. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1_000_000 && bytes % 1_000_000 === 0) return `${bytes / 1_000_000} MB`
  if (bytes >= 1000 && bytes % 1000 === 0) return `${bytes / 1000} KB`
  return `${bytes} B`
}

const count = (x: number) => x.toLocaleString('en-US')

function perSystem(
  systems: readonly CurveSystemId[],
  xs: readonly number[],
  shape: (x: number) => PointShape,
  inFlight: readonly number[] = [THROUGHPUT],
): PlannedStart[] {
  return xs.flatMap((x) =>
    systems.map((system) => ({
      system,
      series: CURVE_SYSTEM_TITLES[system],
      shape: shape(x),
      points: [{ x, inFlight }],
    })),
  )
}

const ALL: readonly CurveSystemId[] = ['floor', 'exorelay', 'nats', 'exorelay-nats']
const EXORELAY: readonly CurveSystemId[] = ['exorelay', 'exorelay-nats']

const payload: Curve = {
  id: 'payload',
  title: 'Payload size',
  description:
    'One request/reply carrying a JSON object of 100 B to 1 MB (a string field filled to ' +
    'size) each way, at 64 in flight. "bus" is the CPU of the bus process alone (nats-server ' +
    'for NATS).',
  xHeader: 'payload',
  formatX: formatBytes,
  starts: perSystem(ALL, PAYLOAD_SIZES, (bytes) => ({ payloadBytes: bytes })),
  metrics: [
    throughputAt(THROUGHPUT),
    cpuAt(THROUGHPUT),
    cpuAt(THROUGHPUT, 'bus', 'bus CPU µs/req'),
  ],
  chart: {
    metric: 1,
    xLabel: 'payload bytes',
    yLabel: 'CPU µs per request/reply @64',
    xScale: 'log',
    yScale: 'log',
  },
}

const inFlight: Curve = {
  id: 'in-flight',
  title: 'Requests in flight',
  description:
    'The usual 96-byte request/reply with 1 to 1,024 requests in flight, all measured on one ' +
    'start of each system (64, 256, 1,024, then 8 and 1).',
  xHeader: 'in flight',
  formatX: count,
  starts: ALL.map((system) => ({
    system,
    series: CURVE_SYSTEM_TITLES[system],
    shape: {},
    points: IN_FLIGHT_LEVELS.map((level) => ({ x: level, inFlight: [level] })),
  })),
  metrics: [
    { header: 'req/s', value: (phases) => only(phases)?.throughput },
    { header: 'p50 µs', value: (phases) => only(phases)?.p50Us },
    { header: 'p99 µs', value: (phases) => only(phases)?.p99Us },
  ],
  chart: {
    metric: 0,
    xLabel: 'requests in flight',
    yLabel: 'request/replies per second',
    xScale: 'log',
    yScale: 'linear',
  },
}

const fanOut: Curve = {
  id: 'fan-out',
  title: 'Fan-out',
  description:
    'One message to 1, 4 or 16 receiving services (distinct names, one process; over NATS ' +
    'each its own queue group), each replying; the requester waits for every reply (a send ' +
    'with a reply callback that ends the conversation at the last one), 64 such sends in ' +
    'flight. "delivered/s" counts the copies the bus delivered to receivers; CPU per delivered ' +
    "copy is all processes' CPU divided by them.",
  xHeader: 'receivers',
  formatX: count,
  starts: perSystem(EXORELAY, FAN_OUTS, (receivers) => ({ fanOut: receivers })),
  metrics: [
    {
      header: 'delivered/s',
      value: (phases, x) => {
        const throughput = phaseAt(phases, THROUGHPUT)?.throughput
        return throughput === undefined ? undefined : throughput * x
      },
    },
    {
      header: 'CPU µs/delivered',
      value: (phases, x) => {
        const perRequest = cpuAt(THROUGHPUT).value(phases, x)
        return perRequest === undefined ? undefined : perRequest / x
      },
    },
    throughputAt(THROUGHPUT),
  ],
  chart: {
    metric: 0,
    xLabel: 'receiving services',
    yLabel: 'messages delivered per second',
    xScale: 'log',
    yScale: 'linear',
  },
}

const routes: Curve = {
  id: 'routes',
  title: 'Routing table size',
  description:
    "ExoRelay's bus holding 10, 1,000 or 10,000 extra message names, spread over 10 or 1,000 " +
    'extra services registered once before the load (PUT /services/<name>; with fewer names ' +
    'than services, services share names); nothing sends them. The usual request/reply at 64, ' +
    'then at 1 in flight. "ExoRelay" is the table without extra services, drawn flat across the ' +
    'chart; "bus" is the CPU of the bus process alone.',
  xHeader: 'extra names',
  formatX: count,
  starts: [
    {
      system: 'exorelay',
      series: 'ExoRelay',
      shape: {},
      points: [{ x: 0, inFlight: [THROUGHPUT, LATENCY] }],
    },
    ...ROUTE_SERVICES.flatMap((services) =>
      ROUTE_NAMES.map(
        (names): PlannedStart => ({
          system: 'exorelay',
          series: `ExoRelay + ${count(services)} services`,
          shape: { routes: { names, services } },
          points: [{ x: names, inFlight: [THROUGHPUT, LATENCY] }],
        }),
      ),
    ),
  ],
  metrics: [
    {
      header: `p50 µs @${LATENCY}`,
      value: (phases) => phaseAt(phases, LATENCY)?.p50Us,
    },
    throughputAt(THROUGHPUT),
    cpuAt(THROUGHPUT, 'bus', `bus CPU µs/req @${THROUGHPUT}`),
  ],
  chart: {
    metric: 0,
    xLabel: 'extra message names in the bus’s table',
    yLabel: 'p50 µs @1',
    xScale: 'log',
    yScale: 'linear',
  },
}

const instances: Curve = {
  id: 'instances',
  title: 'Instances',
  description:
    'The answering service as 1, 2 or 4 processes (instances of one service: ExoCom sends ' +
    'each request to one of them in turn, NATS shares them in the queue group), 64 in flight. ' +
    '"responders" is the CPU of all its instances together.',
  xHeader: 'instances',
  formatX: count,
  starts: perSystem(EXORELAY, INSTANCES, (responders) => ({ responders })),
  metrics: [
    throughputAt(THROUGHPUT),
    cpuAt(THROUGHPUT),
    {
      header: 'responders CPU µs/req',
      value: (phases) => {
        const phase = phaseAt(phases, THROUGHPUT)
        if (phase === undefined || phase.completed === 0) return undefined
        let spent = 0
        for (const [label, micros] of Object.entries(phase.cpuMicros)) {
          if (label.startsWith('responder')) spent += micros
        }
        return spent / phase.completed
      },
    },
  ],
  chart: {
    metric: 0,
    xLabel: 'instances of the answering service',
    yLabel: 'request/replies per second @64',
    xScale: 'linear',
    yScale: 'linear',
  },
}

/** Every curve, in the order `npm run curves` runs them. */
export const CURVES: readonly Curve[] = [payload, inFlight, fanOut, routes, instances]
