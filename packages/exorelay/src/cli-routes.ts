import { text } from 'node:stream/consumers'
import { DEFAULT_TIMEOUT, ErrorCodes, ProtocolError } from '@exorelay/core'
import { BUS_OPTIONS_USAGE, busAddress, runCommand, UsageError } from './cli-args.js'
import { busGet } from './cli-bus-get.js'
import { printable } from './cli-text.js'

const USAGE = `Usage: exorelay routes [options]

Prints the bus's services (name, address, instances, source) and its routes (message ->
receiving services), from its GET /config.json.

Options:
  --json             print the bus's JSON as it is
${BUS_OPTIONS_USAGE}`

/**
 * `exorelay routes`: the routing table as two tables, or as the bus's JSON. Resolves with the
 * exit code: 0 printed, 1 the bus is not there or refused, 2 wrong usage.
 */
export function routesCommand(args: string[]): Promise<number> {
  return runCommand(
    'routes',
    USAGE,
    args,
    { json: { type: 'boolean' } },
    async ({ values, positionals }) => {
      if (positionals.length > 0) {
        throw new UsageError(`routes takes no arguments; got '${positionals.join("' '")}'.`)
      }
      const bus = busAddress(values)
      const body = await text(
        await busGet(bus, '/config.json', {
          accept: 'application/json',
          timeout: DEFAULT_TIMEOUT,
          bodyTimeout: DEFAULT_TIMEOUT,
        }),
      )
      let config: unknown
      try {
        config = JSON.parse(body)
      } catch {
        throw notATable()
      }
      if (typeof config !== 'object' || config === null) throw notATable()
      process.stdout.write(
        values.json ? `${JSON.stringify(config, null, 2)}\n` : formatRoutes(config as RawConfig),
      )
      return 0
    },
  )
}

/** `GET /config.json` as it may come over the network: every field is checked before use. */
interface RawConfig {
  services?: unknown
  routes?: unknown
}

/** The two tables `exorelay routes` prints, from the bus's `GET /config.json`. */
export function formatRoutes(config: RawConfig): string {
  const services = entries(config.services).map(([name, service]) => {
    const { host, port, instances, source } = service as Record<string, unknown>
    return [
      name,
      typeof host === 'string' && typeof port === 'number' ? `${host}:${port}` : '?',
      String(Array.isArray(instances) ? instances.length : 1),
      typeof source === 'string' ? source : '',
    ]
  })
  const routes = entries(config.routes).map(([name, route]) => {
    const receivers = (route as { receivers?: unknown }).receivers
    const names = Array.isArray(receivers)
      ? receivers.map((receiver) => String((receiver as { name?: unknown } | null)?.name ?? '?'))
      : []
    return [name, names.join(', ')]
  })
  return [
    'Services',
    ...table(['NAME', 'ADDRESS', 'INSTANCES', 'SOURCE'], services, 'no service is registered'),
    '',
    'Routes',
    ...table(['MESSAGE', 'RECEIVERS'], routes, 'no message has a receiver'),
    '',
  ].join('\n')
}

/** The entries of an object field, sorted by name; nothing for anything else. */
function entries(value: unknown): [string, unknown][] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return []
  return Object.entries(value)
    .filter(([, entry]) => typeof entry === 'object' && entry !== null)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}

/** Columns padded to their widest cell, two spaces apart, indented; a dash line when empty. */
function table(head: string[], rows: string[][], none: string): string[] {
  if (rows.length === 0) return [`  (${none})`]
  const cells = [head, ...rows.map((row) => row.map(printable))]
  const widths = head.map((_, column) => Math.max(...cells.map((row) => row[column]!.length)))
  return cells.map((row) =>
    `  ${row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ')}`.trimEnd(),
  )
}

function notATable(): ProtocolError {
  return new ProtocolError(
    ErrorCodes.INVALID_MESSAGE,
    'The bus answered GET /config.json with something that is not a JSON object. Check that --port (or EXOCOM_PORT) is the port of ExoCom, not of another server.',
  )
}
