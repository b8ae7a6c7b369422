import { EXORELAY_NO_STACKS, TELEMETRY_DESCRIPTIONS } from './exorelay-scenario.js'
import { ENV_TELEMETRY } from './ipc.js'
import { onNats } from './nats-server.js'
import type { Scenario, SystemId } from './scenario.js'
import type { TelemetryMode } from './telemetry.js'

/**
 * ExoRelay over NATS: nats-server plus two services with `exorelay` and the NATS transport;
 * with `telemetry`, both services are instrumented with OpenTelemetry (issue 15).
 */
function exorelayNatsSystem(id: SystemId, title: string, telemetry?: TelemetryMode): Scenario {
  return {
    id,
    title,
    description:
      "nats-server + two services with the exorelay package (EXORELAY_TRANSPORT=nats, logger: false; stackTraces as by default, 'await': no capture per send), one await relay.send() per request/reply" +
      (telemetry === undefined ? '' : `; ${TELEMETRY_DESCRIPTIONS[telemetry]}`),
    noStacks: EXORELAY_NO_STACKS,
    ...onNats(
      (port) => ({
        EXORELAY_TRANSPORT: 'nats',
        NATS_URL: `nats://127.0.0.1:${port}`,
        ...(telemetry === undefined ? {} : { [ENV_TELEMETRY]: telemetry }),
      }),
      { responder: 'exorelay-nats-responder.ts', requester: 'exorelay-nats-requester.ts' },
    ),
  }
}

export const exorelayNatsScenario: Scenario = exorelayNatsSystem(
  'exorelay-nats',
  'ExoRelay over NATS',
)

/** ExoRelay over NATS with OpenTelemetry's API and no SDK: compare with `exorelay-nats`. */
export const exorelayNatsOtelApiScenario: Scenario = exorelayNatsSystem(
  'exorelay-nats-otel-api',
  'ExoRelay over NATS + OTel API, no SDK',
  'api',
)

/** ExoRelay over NATS with an OpenTelemetry SDK exporting nowhere: compare with `exorelay-nats`. */
export const exorelayNatsOtelSdkScenario: Scenario = exorelayNatsSystem(
  'exorelay-nats-otel-sdk',
  'ExoRelay over NATS + OTel SDK',
  'sdk',
)
