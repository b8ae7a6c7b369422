import { ENV_BUS_PORT } from './ipc.js'
import { NodeChild } from './processes.js'
import { type Scenario, startSystem } from './scenario.js'

/**
 * ExoRelay as users run it: `@exorelay/exocom` in its own process, two services with the
 * `exorelay` package (`logger: false`), routes by self-registration.
 */
export const exorelayScenario: Scenario = {
  id: 'exorelay',
  title: 'ExoRelay',
  description:
    'the exorelay package (logger: false, stackTraces: false) in two services, @exorelay/exocom (logger: false) as the bus, one await relay.send() per request/reply',
  unavailable: () => undefined,
  start: (options) =>
    startSystem(
      options,
      async () => {
        const bus = await NodeChild.start('bus', 'exorelay-bus.ts', {
          execArgv: options.execArgv('bus'),
        })
        return { process: bus, env: { [ENV_BUS_PORT]: String(bus.port) } }
      },
      // The responder registers before the requester starts, so the first request is routed.
      { responder: 'exorelay-responder.ts', requester: 'exorelay-requester.ts' },
    ),
}
