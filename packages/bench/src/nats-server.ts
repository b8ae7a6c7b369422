import { findNatsServer, startNatsServer } from '@exorelay/testing'
import { ExternalProcess } from './processes.js'
import { type Scenario, type StartedBus, startSystem } from './scenario.js'

export { findNatsServer }

/** The note printed instead of the NATS rows when the server is missing. */
export const NATS_MISSING = 'nats-server not installed (apt-get install nats-server)'

/** How long nats-server may take to say it is ready while a machine is busy. */
const READY_TIMEOUT = 30_000

/** Why a system on NATS cannot run here, or `undefined` when it can. */
export function natsUnavailable(): string | undefined {
  return findNatsServer() === undefined ? NATS_MISSING : undefined
}

/**
 * Starts nats-server on loopback as a system's bus; resolves once it logged that it is ready.
 * `envFor` tells the services where it listens; `args` go to nats-server as they are (e.g. a
 * configuration file raising `max_payload`).
 */
export async function startNatsBus(
  envFor: (port: number) => Readonly<Record<string, string>>,
  args: readonly string[] = [],
): Promise<StartedBus> {
  const binary = findNatsServer()
  if (binary === undefined) throw new Error(NATS_MISSING)
  const server = await startNatsServer({ binary, readyTimeout: READY_TIMEOUT, args })
  // Labelled by its role: in the tables nats-server sits in the bus column.
  return { process: new ExternalProcess('bus', server), env: envFor(server.port) }
}

/**
 * What every system on nats-server shares: it needs the binary, and starts it as its bus
 * before the services of `scripts`, which `envFor` tells where it listens.
 */
export function onNats(
  envFor: (port: number) => Readonly<Record<string, string>>,
  scripts: { readonly responder: string; readonly requester: string },
): Pick<Scenario, 'unavailable' | 'start'> {
  return {
    unavailable: natsUnavailable,
    start: (options) => startSystem(options, () => startNatsBus(envFor), scripts),
  }
}
