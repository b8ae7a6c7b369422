import { ENV_BUS_PORT } from './ipc.js'
import { type MeasuredProcess, NodeChild } from './processes.js'
import { type Scenario, stopSystem } from './scenario.js'

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
  async start(options) {
    const started: MeasuredProcess[] = []
    try {
      const bus = await NodeChild.start('bus', 'exorelay-bus.ts', {
        execArgv: options.execArgv('bus'),
      })
      started.push(bus)
      const env = { [ENV_BUS_PORT]: String(bus.port) }
      // The responder registers before the requester starts, so the first request is routed.
      started.push(
        await NodeChild.start('responder', 'exorelay-responder.ts', {
          env,
          execArgv: options.execArgv('responder'),
        }),
      )
      const requester = await NodeChild.start('requester', 'exorelay-requester.ts', {
        env,
        execArgv: options.execArgv('requester'),
      })
      started.push(requester)
      return { processes: started, requester }
    } catch (error) {
      await stopSystem({ processes: started })
      throw error
    }
  },
}
