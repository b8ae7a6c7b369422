import { once } from 'node:events'
import { createServer } from 'node:net'

/** True when the port can be bound on 127.0.0.1, i.e. nothing listens there any more. */
export async function isFree(port: number): Promise<boolean> {
  const server = createServer()
  // Not once(): once(server, 'listening') rejects on 'error', which is the answer here.
  const refused = await new Promise<boolean>((resolve) => {
    server.once('listening', () => resolve(false))
    server.once('error', () => resolve(true))
    server.listen(port, '127.0.0.1')
  })
  if (refused) return false
  server.close()
  await once(server, 'close')
  return true
}
