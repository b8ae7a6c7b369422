// The routes curve's table: extra services registered with ExoCom once, before the load, each
// receiving names nothing ever sends, so they only make the table the bus routes through
// larger. Registered from the benchmark's own process: its CPU is not the system's.
import type { ServiceRegistration } from '@exorelay/exocom'
import { registrationPath } from './flood.js'
import { JSON_HEADERS } from './floor-wire.js'

/** How large the routes curve makes the bus's table: names, and the services listing them. */
export interface ExtraRoutes {
  readonly names: number
  readonly services: number
}

/**
 * The longest interval a registration may name (`MAX_REGISTER_INTERVAL` of the protocol): the
 * bus keeps a service three intervals without hearing from it, so registered once, the extra
 * services stay for three minutes, longer than any point of the curve runs.
 */
const REGISTER_INTERVAL = 60_000
/** PUTs under way at once: the bus takes them as fast as 16 connections bring them. */
const CONCURRENT_PUTS = 16

/**
 * The registrations that give the bus `names` extra message names over `services` extra
 * services, spread evenly: service `i` receives names `i`, `i + services`, `i + 2 * services`,
 * … With fewer names than services, services share them: service `i` receives name
 * `i % names`. Nothing listens at their ports; nothing sends their names.
 */
export function extraRegistrations({ names, services }: ExtraRoutes): ServiceRegistration[] {
  return Array.from({ length: services }, (_, index) => {
    const listed: string[] = []
    if (names < services) listed.push(routeName(index % names))
    else for (let name = index; name < names; name += services) listed.push(routeName(name))
    return {
      name: `route-${index}`,
      host: '127.0.0.1',
      port: 20_000 + (index % 40_000),
      receives: listed,
      registerInterval: REGISTER_INTERVAL,
    }
  })
}

function routeName(index: number): string {
  return `route.name-${index}`
}

/** Registers `routes` with the bus on `busPort`; rejects naming the first one it refused. */
export async function registerExtraRoutes(busPort: number, routes: ExtraRoutes): Promise<void> {
  const registrations = extraRegistrations(routes)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < registrations.length) {
      const service = registrations[next++]!
      const response = await fetch(`http://127.0.0.1:${busPort}${registrationPath(service.name)}`, {
        method: 'PUT',
        headers: JSON_HEADERS,
        body: JSON.stringify(service),
        signal: AbortSignal.timeout(10_000),
      })
      const text = await response.text()
      if (response.status !== 200) {
        throw new Error(
          `The bus answered ${response.status} to the registration of ${service.name}: ${text}`,
        )
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENT_PUTS }, worker))
}
