import { accessSync, constants } from 'node:fs'
import { createServer } from 'node:net'
import { delimiter, join } from 'node:path'
import { ExternalProcess } from './processes.js'

/** The note printed instead of the NATS row when the server is missing. */
export const NATS_MISSING = 'nats-server not installed (apt-get install nats-server)'

/** Where `nats-server` is on PATH, or `undefined`. */
export function findNatsServer(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, 'nats-server')
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // Not in this directory.
    }
  }
  return undefined
}

/** A port that was free a moment ago: nats-server takes a port number, not 0. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** Starts nats-server on loopback; resolves once it logged that it is ready. */
export async function startNatsServer(
  binary: string,
): Promise<{ process: ExternalProcess; port: number }> {
  const port = await freePort()
  // Labelled by its role: in the tables nats-server sits in the bus column.
  const server = await ExternalProcess.start(
    'bus',
    binary,
    ['--addr', '127.0.0.1', '--port', String(port)],
    { readyPattern: /Server is ready/ },
  )
  return { process: server, port }
}
