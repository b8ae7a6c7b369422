import { findNatsServer, NATS_MISSING, startNatsServer } from './nats-server.js'
import { type MeasuredProcess, NodeChild } from './processes.js'
import { type Scenario, stopSystem } from './scenario.js'

/** ExoRelay over NATS: nats-server plus two services with `exorelay` and the NATS transport. */
export const exorelayNatsScenario: Scenario = {
  id: 'exorelay-nats',
  title: 'ExoRelay over NATS',
  description:
    'nats-server + two services with the exorelay package (EXORELAY_TRANSPORT=nats, logger: false, stackTraces: false), one await relay.send() per request/reply',
  unavailable: () => (findNatsServer() === undefined ? NATS_MISSING : undefined),
  async start(options) {
    const binary = findNatsServer()
    if (binary === undefined) throw new Error(NATS_MISSING)
    const started: MeasuredProcess[] = []
    try {
      const server = await startNatsServer(binary)
      started.push(server.process)
      const env = { EXORELAY_TRANSPORT: 'nats', NATS_URL: `nats://127.0.0.1:${server.port}` }
      started.push(
        await NodeChild.start('responder', 'exorelay-nats-responder.ts', {
          env,
          execArgv: options.execArgv('responder'),
        }),
      )
      const requester = await NodeChild.start('requester', 'exorelay-nats-requester.ts', {
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
