import {
  ENV_BATCHES,
  ENV_BUS_PORT,
  ENV_EVENT_CLIENTS,
  ENV_FLOOD_SERVICES,
  ENV_TELEMETRY,
} from './ipc.js'
import { NodeChild } from './processes.js'
import { type Scenario, type SystemId, startSystem } from './scenario.js'
import type { TelemetryMode } from './telemetry.js'

/** How an ExoRelay system differs from the plain one. */
interface Variant {
  /** Off: the bus and both services leave out the batch extension (decision 0011). */
  readonly batches: boolean
  /** That many other services re-register with the bus once a second (issue 14). */
  readonly flood?: number | undefined
  /** Both services run `@exorelay/opentelemetry`, without or with an SDK (issue 15). */
  readonly telemetry?: TelemetryMode | undefined
  /** That many clients follow the bus's event stream, `GET /events` (issue 18). */
  readonly eventClients?: number | undefined
}

/** What `--no-stacks` changes in a system with ExoRelay's requesting service. */
export const EXORELAY_NO_STACKS = "stackTraces: false in the requesting service's relay"

/** What the `*-otel-*` systems add to a description, by mode (src/telemetry.ts). */
export const TELEMETRY_DESCRIPTIONS: Readonly<Record<TelemetryMode, string>> = {
  api:
    'both services create new ExoRelayInstrumentation() with @opentelemetry/api and no SDK ' +
    'registered: every span is non-recording, every instrument a no-op',
  sdk:
    'both services register an OpenTelemetry SDK 2.x globally (AsyncLocalStorageContextManager, ' +
    'W3C propagator, BasicTracerProvider with a BatchSpanProcessor into an exporter that ' +
    'discards, MeterProvider with a PeriodicExportingMetricReader (60 s, not due within a ' +
    'round) into one that discards), then create new ExoRelayInstrumentation(): every span ' +
    'and measurement recorded',
}

/**
 * ExoRelay as users run it: `@exorelay/exocom` in its own process, two services with the
 * `exorelay` package (`logger: false`), routes by self-registration. With `batches: false`
 * the bus and both services leave out the batch extension (decision 0011): one HTTP request
 * per message, as the floor makes. With `flood`, that many other services re-register with
 * the bus once a second while it carries the load (issue 14). With `telemetry`, both services
 * are instrumented with OpenTelemetry; the bus is not, as `@exorelay/exocom` has no tracing.
 */
function exorelaySystem(id: SystemId, title: string, variant: Variant): Scenario {
  const { batches, flood, telemetry, eventClients } = variant
  const description = `the exorelay package (logger: false${
    batches ? '' : ', batches: false'
  }; stackTraces as by default, 'await': no capture per send) in two services, @exorelay/exocom (logger: false${
    batches ? '' : ', batches: false'
  }) as the bus, one await relay.send() per request/reply${
    telemetry === undefined ? '' : `; ${TELEMETRY_DESCRIPTIONS[telemetry]}`
  }`
  const flooded =
    flood === undefined
      ? description
      : `${description}; meanwhile ${flood.toLocaleString('en-US')} other services (one process, ` +
        'an undici Pool of keep-alive connections, not counted in CPU) each send PUT ' +
        '/services/<name> with their unchanged registration once a second, spread evenly'
  return {
    id,
    title,
    description:
      eventClients === undefined
        ? flooded
        : `${flooded}; meanwhile ${eventClients} client(s) (one process, fetch, not counted in ` +
          "CPU) follow the bus's event stream GET /events, each reading every event as it comes",
    noStacks: EXORELAY_NO_STACKS,
    unavailable: () => undefined,
    async start(options) {
      let background: NodeChild | undefined
      let followers: NodeChild | undefined
      const system = await startSystem(
        options,
        async () => {
          const env = {
            [ENV_BATCHES]: String(batches),
            ...(flood === undefined ? {} : { [ENV_FLOOD_SERVICES]: String(flood) }),
          }
          const bus = await NodeChild.start('bus', 'exorelay-bus.ts', {
            env,
            execArgv: options.execArgv('bus'),
          })
          // The services get the bus's environment: telemetry goes to them only.
          return {
            process: bus,
            env: {
              ...env,
              [ENV_BUS_PORT]: String(bus.port),
              ...(telemetry === undefined ? {} : { [ENV_TELEMETRY]: telemetry }),
            },
          }
        },
        // The responder registers before the requester starts, so the first request is routed.
        { responder: 'exorelay-responder.ts', requester: 'exorelay-requester.ts' },
        // The load beside the system starts last and is ready when it runs in full (the flood
        // has registered every one of its services once, each event client has had its
        // hello), so the warm-up already runs against it. Never profiled: it is load.
        async ({ bus }) => {
          if (flood !== undefined) {
            background = await NodeChild.start('flood', 'flood-registrar.ts', { env: bus.env })
          }
          if (eventClients !== undefined) {
            followers = await NodeChild.start('events', 'event-clients.ts', {
              env: { ...bus.env, [ENV_EVENT_CLIENTS]: String(eventClients) },
            })
          }
        },
      )
      return { ...system, background, followers }
    },
  }
}

export const exorelayScenario: Scenario = exorelaySystem('exorelay', 'ExoRelay', {
  batches: true,
})

export const exorelayUnbatchedScenario: Scenario = exorelaySystem(
  'exorelay-unbatched',
  'ExoRelay, no batches',
  { batches: false },
)

/** ExoRelay with OpenTelemetry's API and no SDK: compare with `exorelay` (issue 15). */
export const exorelayOtelApiScenario: Scenario = exorelaySystem(
  'exorelay-otel-api',
  'ExoRelay + OTel API, no SDK',
  { batches: true, telemetry: 'api' },
)

/** ExoRelay with an OpenTelemetry SDK exporting nowhere: compare with `exorelay` (issue 15). */
export const exorelayOtelSdkScenario: Scenario = exorelaySystem(
  'exorelay-otel-sdk',
  'ExoRelay + OTel SDK',
  { batches: true, telemetry: 'sdk' },
)

/** ExoRelay while `services` other services re-register once a second: compare with `exorelay`. */
export function exorelayFloodScenario(services: number): Scenario {
  return exorelaySystem(
    'exorelay-flood',
    `ExoRelay, ${services.toLocaleString('en-US')} re-registering`,
    { batches: true, flood: services },
  )
}

/** ExoRelay while `clients` clients follow the bus's event stream: compare with `exorelay`. */
function exorelayEventsScenario(id: SystemId, clients: number): Scenario {
  return exorelaySystem(id, `ExoRelay, ${clients} following /events`, {
    batches: true,
    eventClients: clients,
  })
}

export const exorelayEvents1Scenario: Scenario = exorelayEventsScenario('exorelay-events-1', 1)
export const exorelayEvents100Scenario: Scenario = exorelayEventsScenario(
  'exorelay-events-100',
  100,
)
