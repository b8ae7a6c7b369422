// The Moleculer brokers of `moleculer-nats` and `moleculer-tcp`: Moleculer's defaults but for
// the two options every system of the benchmark sets (no logging) or needs (where the peer is).
import { ErrorCodes, InvalidArgumentError } from '@exorelay/core'
import { ServiceBroker } from 'moleculer'
import { natsServer } from './child.js'
import { ENV_MOLECULER_PEER, ENV_MOLECULER_TRANSPORTER } from './ipc.js'

/** The responder's node ID: the requester's static TCP peer names it. */
export const RESPONDER_NODE = 'responder'
/** The requester's node ID. */
export const REQUESTER_NODE = 'requester'

/** Makes the broker of node `nodeID` with the transporter the parent asked for. */
export function moleculerBroker(nodeID: string): ServiceBroker {
  return new ServiceBroker({ nodeID, logger: false, transporter: transporter() })
}

function transporter(): ServiceBroker.TransporterConfig {
  const kind = process.env[ENV_MOLECULER_TRANSPORTER]
  if (kind === 'nats') return { type: 'NATS', options: { url: `nats://${natsServer()}` } }
  if (kind === 'tcp') {
    const peer = process.env[ENV_MOLECULER_PEER]
    return {
      type: 'TCP',
      // No UDP discovery (it multicasts to the network): the requester knows the responder's
      // address, the responder learns the requester's from its first connection.
      options: { udpDiscovery: false, ...(peer === undefined ? {} : { urls: peer }) },
    }
  }
  throw new InvalidArgumentError(
    ErrorCodes.INVALID_OPTION,
    `${ENV_MOLECULER_TRANSPORTER} must be nats or tcp, got '${kind}'.`,
  )
}
