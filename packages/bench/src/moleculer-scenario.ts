import { ENV_MOLECULER_PEER, ENV_MOLECULER_TRANSPORTER, ENV_NATS_SERVER } from './ipc.js'
import { RESPONDER_NODE } from './moleculer-broker.js'
import { onNats } from './nats-server.js'
import { NodeChild } from './processes.js'
import type { Scenario } from './scenario.js'

const SCRIPTS = { responder: 'moleculer-responder.ts', requester: 'moleculer-requester.ts' }
/** What both Moleculer systems are, beyond their transporter. */
const BROKERS =
  "two Moleculer 0.15 brokers, a service `bench` whose action `request` returns its params and one await broker.call('bench.request', payload) per request/reply; " +
  "Moleculer's defaults (JSON serializer, its own balancer, no request timeout, no retries) but logger: false (no system logs) and a nodeID per broker (names the TCP peer); " +
  'ready once broker.waitForServices() saw the service'

/** Moleculer over NATS: nats-server plus two brokers with the NATS transporter (nats.js 2). */
export const moleculerNatsScenario: Scenario = {
  id: 'moleculer-nats',
  title: 'Moleculer over NATS',
  description: `nats-server + ${BROKERS}; transporter NATS (nats.js 2, Moleculer's own subscriptions per node, not nc.request())`,
  ...onNats(
    (port) => ({ [ENV_NATS_SERVER]: `127.0.0.1:${port}`, [ENV_MOLECULER_TRANSPORTER]: 'nats' }),
    SCRIPTS,
  ),
}

/**
 * Moleculer over TCP: two brokers that connect to each other, no bus process. The requester is
 * given the responder's address, so there is no UDP discovery and nothing leaves loopback.
 */
export const moleculerTcpScenario: Scenario = {
  id: 'moleculer-tcp',
  title: 'Moleculer over TCP',
  description: `${BROKERS}; transporter TCP, no bus: udpDiscovery: false and the responder's 127.0.0.1:<port>/${RESPONDER_NODE} as the requester's static urls, so nothing leaves loopback`,
  unavailable: () => undefined,
  async start(options) {
    const env = { [ENV_MOLECULER_TRANSPORTER]: 'tcp' }
    const responder = await NodeChild.start('responder', SCRIPTS.responder, {
      env,
      execArgv: options.execArgv('responder'),
    })
    try {
      const requester = await NodeChild.start('requester', SCRIPTS.requester, {
        env: { ...env, [ENV_MOLECULER_PEER]: `127.0.0.1:${responder.port}/${RESPONDER_NODE}` },
        execArgv: options.execArgv('requester'),
      })
      return { processes: [responder, requester], requester }
    } catch (error) {
      await responder.stop()
      throw error
    }
  },
}
