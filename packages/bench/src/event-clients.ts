// Clients of the bus's event stream (issue 18): `BENCH_EVENT_CLIENTS` connections to
// `GET /events`, each read as fast as it comes, as `exorelay tail` or the dev page read it.
// Their CPU is not the system's (they stand for tools beside it); the bus's work for them is.
// On stop it says on stderr how many were still connected (the bus drops a client that falls
// more than its eventsBuffer behind) and how much they read.
import { busPort, eventClients, serveParent } from './child.js'

const clients = eventClients()
const url = `http://127.0.0.1:${busPort()}/events`
const abort = new AbortController()
let bytes = 0
let connected = 0

/** Connects one client, resolves once its first bytes (the hello event) came, and reads on. */
async function follow(): Promise<void> {
  const response = await fetch(url, {
    signal: AbortSignal.any([abort.signal, AbortSignal.timeout(30_000)]),
  })
  if (response.status !== 200 || response.body === null) {
    throw new Error(`GET /events answered ${response.status}: ${await response.text()}`)
  }
  const reader = response.body.getReader()
  const first = await reader.read()
  bytes += first.value?.byteLength ?? 0
  connected++
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        bytes += value.byteLength
      }
    } catch {
      // Stopped, or dropped by the bus: counted below either way.
    }
    connected--
  })()
}

// Each client has said hello before the warm-up: the bus builds events from the first request.
await Promise.all(Array.from({ length: clients }, () => follow()))

serveParent({
  port: 0,
  async stop() {
    process.stderr.write(
      `event clients: ${connected} of ${clients} still connected, ${(bytes / 1e6).toFixed(1)} MB of events read\n`,
    )
    abort.abort()
  },
})
