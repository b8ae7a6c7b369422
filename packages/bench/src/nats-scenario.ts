import { ENV_NATS_SERVER } from './ipc.js'
import { findNatsServer, NATS_MISSING, startNatsServer } from './nats-server.js'
import { type MeasuredProcess, NodeChild } from './processes.js'
import { type Scenario, stopSystem } from './scenario.js'

/** NATS request/reply: nats-server plus two nats.js services, the reference to beat. */
export const natsScenario: Scenario = {
  id: 'nats',
  title: 'NATS',
  description:
    'nats-server + two nats.js 2 services, nc.request() (noAsyncTraces: true) / msg.respond() with JSON payloads',
  unavailable: () => (findNatsServer() === undefined ? NATS_MISSING : undefined),
  async start(options) {
    const binary = findNatsServer()
    if (binary === undefined) throw new Error(NATS_MISSING)
    const started: MeasuredProcess[] = []
    try {
      const server = await startNatsServer(binary)
      started.push(server.process)
      const env = { [ENV_NATS_SERVER]: `127.0.0.1:${server.port}` }
      started.push(
        await NodeChild.start('responder', 'nats-responder.ts', {
          env,
          execArgv: options.execArgv('responder'),
        }),
      )
      const requester = await NodeChild.start('requester', 'nats-requester.ts', {
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
