import { text } from 'node:stream/consumers'
import {
  type BusAddress,
  busAddress,
  type ParsedCommand,
  timeoutFlag,
  UsageError,
} from './cli-args.js'
import { ExoRelay } from './exo-relay.js'

// What `exorelay send` and `exorelay request` share: the message from the arguments, and the
// relay that sends it.

/** The sender name the bus sees unless `--sender` gives another. */
export const DEFAULT_SENDER = 'cli'

/** The usage lines of the flags both take. */
export const MESSAGE_OPTIONS_USAGE = `  --sender <name>    the sender's service name the bus sees (default: ${DEFAULT_SENDER}); with
                     per-service credentials, the service whose token is given
`

export const MESSAGE_OPTIONS = {
  sender: { type: 'string' },
  timeout: { type: 'string' },
} as const

/** The message a command sends: its name, and its payload when one is given. */
export interface CliMessage {
  name: string
  payload: unknown
}

/**
 * `<name> [payload-json|-]`: the payload is parsed as JSON, read from stdin for `-`, and
 * absent when not given. Throws a `UsageError` for a missing name, an extra argument or a
 * payload that is not JSON.
 */
async function readMessage(positionals: string[]): Promise<CliMessage> {
  const [name, payloadArgument, ...extra] = positionals
  if (name === undefined) throw new UsageError('name the message, e.g. users.create.')
  if (extra.length > 0) {
    throw new UsageError(
      `one name and one payload at most; got ${positionals.map((p) => `'${p}'`).join(', ')}. Quote a payload with spaces: '{"name": "Will"}'.`,
    )
  }
  if (payloadArgument === undefined) return { name, payload: undefined }
  const fromStdin = payloadArgument === '-'
  const json = fromStdin ? await text(process.stdin) : payloadArgument
  const from = fromStdin ? 'the payload on stdin' : 'the payload'
  if (json.trim() === '') {
    throw new UsageError(`${from} is empty; give JSON, or leave the payload out to send none.`)
  }
  try {
    return { name, payload: JSON.parse(json) }
  } catch (error) {
    throw new UsageError(
      `${from} is not valid JSON (${(error as Error).message}): give JSON such as '{"name": "Will"}', or '"Will"' for a string.`,
    )
  }
}

/**
 * A relay for one message from the command line: quiet (the command prints what matters),
 * configured by the command's flags alone, over HTTP whatever EXORELAY_TRANSPORT says. Only
 * `EXORELAY_HOST` and `EXORELAY_ADVERTISED_HOST` are read, for a request's reply to find it
 * when the bus runs elsewhere.
 */
function cliRelay(bus: BusAddress, sender: string | undefined, timeout: number): ExoRelay {
  const { EXORELAY_HOST, EXORELAY_ADVERTISED_HOST } = process.env
  return new ExoRelay({
    serviceName: sender ?? DEFAULT_SENDER,
    exocomHost: bus.host,
    exocomPort: bus.port,
    port: 0,
    timeout,
    logger: false,
    env: { EXORELAY_HOST, EXORELAY_ADVERTISED_HOST },
    ...(bus.token !== undefined && { token: bus.token }),
  })
}

/**
 * What `send` and `request` start with: the bus from the flags, the timeout (`--timeout`, else
 * `defaultTimeout`), the message from the positionals, and a relay to send it with. Throws a
 * `UsageError` for a wrong flag or argument.
 */
export async function messageToSend(
  { values, positionals }: ParsedCommand<typeof MESSAGE_OPTIONS>,
  defaultTimeout: number,
): Promise<CliMessage & { relay: ExoRelay }> {
  const bus = busAddress(values)
  const timeout = timeoutFlag(values.timeout, defaultTimeout)
  const { name, payload } = await readMessage(positionals)
  return { name, payload, relay: cliRelay(bus, values.sender, timeout) }
}
