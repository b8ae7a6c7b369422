import { once } from 'node:events'
import { createServer, type Server } from 'node:net'

/**
 * `count` ports of 127.0.0.1 that were free a moment ago, all distinct: one probe server per
 * port, all listening at the same time (so the system cannot hand out one port twice, nor one
 * that something of this process listens on, such as the bus), then all closed. Probing one
 * port at a time, each closed before the next bind, can return the same port twice.
 */
export async function freePorts(count: number): Promise<number[]> {
  const probes: Server[] = Array.from({ length: count }, () => createServer())
  try {
    await Promise.all(
      probes.map((probe) => {
        probe.listen(0, '127.0.0.1')
        return once(probe, 'listening')
      }),
    )
    return probes.map((probe) => (probe.address() as { port: number }).port)
  } finally {
    await Promise.all(
      probes
        .filter((probe) => probe.listening)
        .map((probe) => new Promise((resolve) => probe.close(resolve))),
    )
  }
}
