import { findNatsServer, startNatsServer as startServer } from '@exorelay/testing'
import { ExternalProcess } from './processes.js'

export { findNatsServer }

/** The note printed instead of the NATS row when the server is missing. */
export const NATS_MISSING = 'nats-server not installed (apt-get install nats-server)'

/** How long nats-server may take to say it is ready while a machine is busy. */
const READY_TIMEOUT = 30_000

/** Starts nats-server on loopback; resolves once it logged that it is ready. */
export async function startNatsServer(
  binary: string,
): Promise<{ process: ExternalProcess; port: number }> {
  const server = await startServer({ binary, readyTimeout: READY_TIMEOUT })
  // Labelled by its role: in the tables nats-server sits in the bus column.
  return { process: new ExternalProcess('bus', server), port: server.port }
}
