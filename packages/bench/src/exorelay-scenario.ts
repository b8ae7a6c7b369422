import { ENV_BATCHES, ENV_BUS_PORT } from './ipc.js'
import { NodeChild } from './processes.js'
import { type Scenario, type SystemId, startSystem } from './scenario.js'

/**
 * ExoRelay as users run it: `@exorelay/exocom` in its own process, two services with the
 * `exorelay` package (`logger: false`), routes by self-registration. With `batches: false`
 * the bus and both services leave out the batch extension (decision 0011): one HTTP request
 * per message, as the floor makes.
 */
function exorelaySystem(id: SystemId, title: string, batches: boolean): Scenario {
  return {
    id,
    title,
    description: `the exorelay package (logger: false, stackTraces: false${
      batches ? '' : ', batches: false'
    }) in two services, @exorelay/exocom (logger: false${
      batches ? '' : ', batches: false'
    }) as the bus, one await relay.send() per request/reply`,
    unavailable: () => undefined,
    start: (options) =>
      startSystem(
        options,
        async () => {
          const env = { [ENV_BATCHES]: String(batches) }
          const bus = await NodeChild.start('bus', 'exorelay-bus.ts', {
            env,
            execArgv: options.execArgv('bus'),
          })
          return { process: bus, env: { ...env, [ENV_BUS_PORT]: String(bus.port) } }
        },
        // The responder registers before the requester starts, so the first request is routed.
        { responder: 'exorelay-responder.ts', requester: 'exorelay-requester.ts' },
      ),
  }
}

export const exorelayScenario: Scenario = exorelaySystem('exorelay', 'ExoRelay', true)

export const exorelayUnbatchedScenario: Scenario = exorelaySystem(
  'exorelay-unbatched',
  'ExoRelay, no batches',
  false,
)
