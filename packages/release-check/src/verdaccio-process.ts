// Runs Verdaccio in a process of its own, so that the test process holds none of its handles
// and `kill()` ends every one of them. Started by local-registry.ts with the configuration as
// JSON in argv; prints the address it listens on as one JSON line, then serves until killed.
import type { AddressInfo } from 'node:net'
import { runServer } from 'verdaccio'

const configuration = JSON.parse(process.argv[2]!)
const server = await runServer(configuration)
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  process.stdout.write(`${JSON.stringify({ port })}\n`)
})
