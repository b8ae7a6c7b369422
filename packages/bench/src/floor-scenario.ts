import { ENV_BUS_PORT } from './ipc.js'
import { REPLY_NAME, REQUEST_NAME } from './payload.js'
import { type MeasuredProcess, NodeChild } from './processes.js'
import { type Scenario, stopSystem } from './scenario.js'

/**
 * The floor: a hand-written minimal relay, the least that speaks the ExoCom HTTP protocol.
 * Three processes (bus, responder, requester), Fastify listeners and undici senders,
 * correlation by id, no validation, no timeouts, no logging. What ExoRelay costs beyond it
 * is the price of the library.
 */
export const floorScenario: Scenario = {
  id: 'floor',
  title: 'floor',
  description:
    'hand-written minimal relay: Fastify listener + undici sender per service, a Fastify + undici bus, correlation by id, no logging',
  unavailable: () => undefined,
  async start(options) {
    const started: MeasuredProcess[] = []
    try {
      const bus = await NodeChild.start('bus', 'floor-bus.ts', {
        execArgv: options.execArgv('bus'),
      })
      started.push(bus)
      const env = { [ENV_BUS_PORT]: String(bus.port) }
      const responder = await NodeChild.start('responder', 'floor-responder.ts', {
        env,
        execArgv: options.execArgv('responder'),
      })
      started.push(responder)
      const requester = await NodeChild.start('requester', 'floor-requester.ts', {
        env,
        execArgv: options.execArgv('requester'),
      })
      started.push(requester)
      await bus.request({
        type: 'routes',
        routes: { [REQUEST_NAME]: responder.port, [REPLY_NAME]: requester.port },
      })
      return { processes: started, requester }
    } catch (error) {
      await stopSystem({ processes: started })
      throw error
    }
  },
}
