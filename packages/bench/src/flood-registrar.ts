// The registration flood: `BENCH_FLOOD_SERVICES` fake services, each sending its unchanged
// registration (`PUT /services/<name>`) to the bus once a second, spread evenly over the
// second, from one keep-alive undici Pool. Nothing listens at their addresses, and nothing is
// ever delivered there: no message the benchmark sends names what they receive. Its CPU is
// not the system's (it stands for other services); the bus's work for it is.
import { Pool } from 'undici'
import { busPort, floodServices, serveParent } from './child.js'
import {
  dueBy,
  FLOOD_CONNECTIONS,
  FLOOD_FIRST_PUT_TIMEOUT,
  FLOOD_PUT_TIMEOUT,
  FLOOD_TICK,
  floodRegistration,
  RegistrationTally,
  registrationPath,
} from './flood.js'
import { JSON_HEADERS } from './floor-wire.js'

const services = floodServices()
const pool = new Pool(`http://127.0.0.1:${busPort()}`, { connections: FLOOD_CONNECTIONS })
const registrations = Array.from({ length: services }, (_, index) => floodRegistration(index))
const paths = registrations.map((service) => registrationPath(service.name))
const bodies = registrations.map((service) => JSON.stringify(service))
// 1 while the service's PUT is under way: a service never has two at once, as a relay never
// does, so a slow bus sees the flood's due PUTs skipped (and counted) rather than queued.
const underWay = new Uint8Array(services)

async function put(index: number, timeout: number): Promise<void> {
  const response = await pool.request({
    method: 'PUT',
    path: paths[index]!,
    headers: JSON_HEADERS,
    body: bodies[index]!,
    signal: AbortSignal.timeout(timeout),
  })
  const text = await response.body.text()
  if (response.statusCode !== 200) {
    throw new Error(`The bus answered ${response.statusCode} to ${paths[index]}: ${text}`)
  }
}

// Every service once before the flood starts: the table has its full size from the first
// request of the warm-up on, and a bus that refuses them (a cap on services) fails the start.
const first = await Promise.allSettled(
  registrations.map((_, index) => put(index, FLOOD_FIRST_PUT_TIMEOUT)),
)
const refused = first.filter((result) => result.status === 'rejected')
if (refused.length > 0) {
  await pool.destroy()
  throw new Error(
    `${refused.length} of ${services} flood services could not register: ${String(refused[0]!.reason)}`,
  )
}

const startedAt = performance.now()
const tally = new RegistrationTally(startedAt)
let issued = 0
const timer = setInterval(() => {
  const due = dueBy(performance.now() - startedAt, services)
  while (issued < due) {
    const index = issued++ % services
    const sent = underWay[index] === 0
    tally.due(sent)
    if (!sent) continue
    underWay[index] = 1
    const sentAt = performance.now()
    put(index, FLOOD_PUT_TIMEOUT).then(
      () => {
        const now = performance.now()
        tally.completed(now, now - sentAt)
        underWay[index] = 0
      },
      (error: unknown) => {
        tally.failed(error)
        underWay[index] = 0
      },
    )
  }
}, FLOOD_TICK)

serveParent({
  port: 0,
  registrations: () => tally.read(performance.now()),
  async stop() {
    clearInterval(timer)
    // What is still under way is the bus's to finish or not: the run is over.
    await pool.destroy()
  },
})
