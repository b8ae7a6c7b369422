import { natsUnavailable, startNatsBus } from './nats-server.js'
import { type Scenario, startSystem } from './scenario.js'

/** ExoRelay over NATS: nats-server plus two services with `exorelay` and the NATS transport. */
export const exorelayNatsScenario: Scenario = {
  id: 'exorelay-nats',
  title: 'ExoRelay over NATS',
  description:
    'nats-server + two services with the exorelay package (EXORELAY_TRANSPORT=nats, logger: false, stackTraces: false), one await relay.send() per request/reply',
  unavailable: natsUnavailable,
  start: (options) =>
    startSystem(
      options,
      () =>
        startNatsBus((port) => ({
          EXORELAY_TRANSPORT: 'nats',
          NATS_URL: `nats://127.0.0.1:${port}`,
        })),
      {
        responder: 'exorelay-nats-responder.ts',
        requester: 'exorelay-nats-requester.ts',
      },
    ),
}
