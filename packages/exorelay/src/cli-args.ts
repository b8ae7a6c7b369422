import { type ParseArgsConfig, parseArgs } from 'node:util'
import { checkPort, InvalidArgumentError, isExoRelayError } from '@exorelay/core'
import { checkNonEmptyString } from '@exorelay/core/internal'
import { DEFAULT_EXOCOM_HOST, nonEmpty } from './config.js'

// What every `exorelay` subcommand shares: where the bus is, its flags, and how a command says
// that it failed (exit 1) or was used wrongly (exit 2), always in one line on stderr.

/** Where the bus is and what it wants, from the flags first, then the environment. */
export interface BusAddress {
  host: string
  port: number
  token: string | undefined
}

/** The usage lines of the flags every subcommand takes, for each command's usage text. */
export const BUS_OPTIONS_USAGE = `  --host <host>      the bus's host (default: env EXOCOM_HOST, then ${DEFAULT_EXOCOM_HOST})
  --port <n>         the bus's port (default: env EXOCOM_PORT; one of them is required)
  --token <secret>   the bus's token (default: env EXOCOM_TOKEN); prefer the variable:
                     arguments are visible to other local users
  -h, --help         show this help
`

const BUS_OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options']

/** A subcommand's own flags, beside the bus's. */
type Options = NonNullable<ParseArgsConfig['options']>

/** Wrong usage: the command prints the sentence and its usage on stderr and exits 2. */
export class UsageError extends Error {}

/**
 * Parses a subcommand's arguments strictly: its own flags, the bus's flags and positionals.
 * Throws a `UsageError` for an unknown flag or a flag without its value.
 */
export function parseCommand<O extends Options>(args: string[], options: O) {
  try {
    return parseArgs({
      args,
      options: { ...BUS_OPTIONS, ...options },
      strict: true,
      allowPositionals: true,
    })
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
}

/**
 * The bus's address from `--host`, `--port`, `--token`, then `EXOCOM_HOST`, `EXOCOM_PORT`,
 * `EXOCOM_TOKEN` (an empty variable counts as unset). Throws a `UsageError` naming the flag or
 * the variable that is missing or wrong.
 */
export function busAddress(
  values: { host?: string | undefined; port?: string | undefined; token?: string | undefined },
  env: Record<string, string | undefined> = process.env,
): BusAddress {
  const port = values.port ?? nonEmpty(env.EXOCOM_PORT)
  const portFrom = values.port === undefined ? 'EXOCOM_PORT' : '--port'
  if (port === undefined) {
    throw new UsageError(
      "the bus's port is missing: give --port <n> or set EXOCOM_PORT (e.g. EXOCOM_PORT=3100).",
    )
  }
  const host = values.host ?? nonEmpty(env.EXOCOM_HOST) ?? DEFAULT_EXOCOM_HOST
  const token = values.token ?? nonEmpty(env.EXOCOM_TOKEN)
  try {
    checkNonEmptyString(host, '--host (or EXOCOM_HOST)')
    return { host, port: checkPort(port, portFrom, { connect: true }), token }
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
}

/** Milliseconds from a `--timeout` flag: a positive integer. */
export function timeoutFlag(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const timeout = Number(value)
  if (value.trim() === '' || !Number.isInteger(timeout) || timeout <= 0) {
    throw new UsageError(`--timeout must be a positive integer of milliseconds, got '${value}'.`)
  }
  return timeout
}

/** `http://localhost:3100`: where the bus is, for requests and sentences. */
export function busOrigin({ host, port }: BusAddress): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`
}

/** A subcommand's arguments, parsed: its flags, the bus's, and the positionals. */
export type ParsedCommand<O extends Options> = ReturnType<typeof parseCommand<O>>

/**
 * Runs a subcommand: parses `args` with its `options` (see {@link parseCommand}), prints
 * `usage` for `--help`, else does its `work`, and turns what that throws into the exit code: a
 * `UsageError` (or an `InvalidArgumentError`) is 2 with the usage, anything else 1 with
 * `exorelay <command>: <code>: <sentence>` (the code when the error has one). Never a stack: a
 * failure here is the bus's or the input's, said in words.
 */
export async function runCommand<O extends Options>(
  command: string,
  usage: string,
  args: string[],
  options: O,
  work: (parsed: ParsedCommand<O>) => Promise<number>,
): Promise<number> {
  try {
    const parsed = parseCommand(args, options)
    // Every command takes the bus's flags, --help among them (generic `O` hides it).
    if ((parsed.values as { help?: boolean }).help) {
      process.stdout.write(usage)
      return 0
    }
    return await work(parsed)
  } catch (error) {
    // An argument the relay refuses (a message name it cannot send) is wrong usage too.
    if (error instanceof UsageError || error instanceof InvalidArgumentError) {
      process.stderr.write(`exorelay ${command}: ${describeFailure(error)}\n\n${usage}`)
      return 2
    }
    process.stderr.write(`exorelay ${command}: ${describeFailure(error)}\n`)
    return 1
  }
}

/** `EXORELAY_ERR_…: <sentence>` for a coded error, the sentence alone otherwise; one line. */
export function describeFailure(error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, ' ')
  return isExoRelayError(error) ? `${error.code}: ${message}` : message
}
