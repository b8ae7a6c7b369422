import { once } from 'node:events'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { ExoRelay } from 'exorelay'

/** The folder of a landscape fixture's application file. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`fixtures/landscape/${name}/application.yml`, import.meta.url))
}

/** True when the port can be bound on 127.0.0.1, i.e. nothing listens there any more. */
export async function isFree(port: number): Promise<boolean> {
  const server = createServer()
  server.listen(port, '127.0.0.1')
  const [event] = await Promise.race([once(server, 'listening'), once(server, 'error')])
  if (event instanceof Error) return false
  server.close()
  await once(server, 'close')
  return true
}

/** A relay of the test itself on the landscape's bus, closed after the test. */
export async function testRelay(
  t: { after: (fn: () => Promise<void>) => void },
  busPort: number,
  options: { token?: string } = {},
): Promise<ExoRelay> {
  const relay = new ExoRelay({
    serviceName: 'tester',
    exocomPort: busPort,
    port: 0,
    logger: false,
    ...options,
  })
  await relay.listen()
  t.after(() => relay.close())
  return relay
}
