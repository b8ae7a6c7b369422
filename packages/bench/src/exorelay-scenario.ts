import { ENV_BATCHES, ENV_BUS_PORT, ENV_FLOOD_SERVICES } from './ipc.js'
import { NodeChild } from './processes.js'
import { type Scenario, type SystemId, startSystem } from './scenario.js'

/**
 * ExoRelay as users run it: `@exorelay/exocom` in its own process, two services with the
 * `exorelay` package (`logger: false`), routes by self-registration. With `batches: false`
 * the bus and both services leave out the batch extension (decision 0011): one HTTP request
 * per message, as the floor makes. With `flood`, that many other services re-register with
 * the bus once a second while it carries the load (issue 14).
 */
function exorelaySystem(id: SystemId, title: string, batches: boolean, flood?: number): Scenario {
  const description = `the exorelay package (logger: false, stackTraces: false${
    batches ? '' : ', batches: false'
  }) in two services, @exorelay/exocom (logger: false${
    batches ? '' : ', batches: false'
  }) as the bus, one await relay.send() per request/reply`
  return {
    id,
    title,
    description:
      flood === undefined
        ? description
        : `${description}; meanwhile ${flood.toLocaleString('en-US')} other services (one process, ` +
          'an undici Pool of keep-alive connections, not counted in CPU) each send PUT ' +
          '/services/<name> with their unchanged registration once a second, spread evenly',
    unavailable: () => undefined,
    async start(options) {
      let background: NodeChild | undefined
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
          return { process: bus, env: { ...env, [ENV_BUS_PORT]: String(bus.port) } }
        },
        // The responder registers before the requester starts, so the first request is routed.
        { responder: 'exorelay-responder.ts', requester: 'exorelay-requester.ts' },
        // The flood starts last and has registered every one of its services once when it is
        // ready, so the warm-up already runs against the full table. Never profiled: it is load.
        flood === undefined
          ? undefined
          : async ({ bus }) => {
              background = await NodeChild.start('flood', 'flood-registrar.ts', { env: bus.env })
            },
      )
      return { ...system, background }
    },
  }
}

export const exorelayScenario: Scenario = exorelaySystem('exorelay', 'ExoRelay', true)

export const exorelayUnbatchedScenario: Scenario = exorelaySystem(
  'exorelay-unbatched',
  'ExoRelay, no batches',
  false,
)

/** ExoRelay while `services` other services re-register once a second: compare with `exorelay`. */
export function exorelayFloodScenario(services: number): Scenario {
  return exorelaySystem(
    'exorelay-flood',
    `ExoRelay, ${services.toLocaleString('en-US')} re-registering`,
    true,
    services,
  )
}
