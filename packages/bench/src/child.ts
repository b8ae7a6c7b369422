import { ErrorCodes, InvalidArgumentError } from '@exorelay/core'
import type { RegistrationCounts } from './flood.js'
import type { AnswerMessage, Command, CommandMessage, ReadyMessage, Usage } from './ipc.js'
import {
  ENV_BATCHES,
  ENV_BUS_PORT,
  ENV_EVENT_CLIENTS,
  ENV_EXTRA_SERVICES,
  ENV_FAN_OUT,
  ENV_FLOOD_SERVICES,
  ENV_NATS_SERVER,
  ENV_NO_STACKS,
  ENV_TELEMETRY,
} from './ipc.js'
import { type LoadOptions, type LoadResult, runLoad } from './load.js'
import type { TelemetryMode } from './telemetry.js'

/** What a child process of a system can do beyond reporting its usage. */
export interface ChildRole {
  /** The port it listens on (0 when it does not listen). */
  readonly port: number
  /** The request the load generator repeats; only the requesting service has one. */
  readonly request?: (() => Promise<unknown>) | undefined
  /** Takes the routing table (message name to port); only the floor's bus needs it. */
  readonly routes?: ((routes: Readonly<Record<string, number>>) => void) | undefined
  /** What the registration flood did since the last reading; only the flood process has it. */
  readonly registrations?: (() => RegistrationCounts) | undefined
  /** Releases sockets and servers before the process exits. */
  stop(): Promise<void>
}

/** Whether ExoRelay's bus and services use the batch extension: off only in `exorelay-unbatched`. */
export function batches(): boolean {
  return process.env[ENV_BATCHES] !== 'false'
}

/**
 * Instruments the service's relays with `@exorelay/opentelemetry` when the parent asked for it
 * (`*-otel-*` systems). Call it before the relay is made, as an application starts its SDK
 * first. OpenTelemetry is imported only then, so that other systems do not load it.
 */
export async function telemetryIfAsked(): Promise<void> {
  const mode = process.env[ENV_TELEMETRY]
  if (mode === undefined) return
  const { instrument, TELEMETRY_MODES } = await import('./telemetry.js')
  if (!(TELEMETRY_MODES as readonly string[]).includes(mode)) {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      `${ENV_TELEMETRY} must be one of ${TELEMETRY_MODES.join(', ')}, got '${mode}'.`,
    )
  }
  await instrument(mode as TelemetryMode)
}

/**
 * Whether the requesting service captures the caller's stack per request: the libraries'
 * default, off with `--no-stacks`.
 */
export function stackCapture(): boolean {
  return process.env[ENV_NO_STACKS] !== 'true'
}

/** The bus port the parent passed, for the services. */
export function busPort(): number {
  return positiveIntegerFrom(ENV_BUS_PORT, 'a port number')
}

/** How many services the registration flood re-registers each second. */
export function floodServices(): number {
  return positiveIntegerFrom(ENV_FLOOD_SERVICES, 'a positive integer')
}

/** How many services besides the benchmark's own the bus must hold (the routes curve). */
export function extraServices(): number {
  return positiveIntegerFrom(ENV_EXTRA_SERVICES, 'a positive integer')
}

/** How many receiving services the fan-out curve runs. */
export function fanOut(): number {
  return positiveIntegerFrom(ENV_FAN_OUT, 'a positive integer')
}

/**
 * Where a relay of the curves' own scripts finds its bus: ExoCom on loopback, and a port of
 * its own, when the parent passed the bus's port; otherwise nothing, so that the transport
 * comes from the environment (`EXORELAY_TRANSPORT=nats`, `NATS_URL`) as a user's would.
 */
export function busOptions(): { exocomHost?: string; exocomPort?: number; port?: number } {
  if (process.env[ENV_BUS_PORT] === undefined) return {}
  return { exocomHost: '127.0.0.1', exocomPort: busPort(), port: 0 }
}

/** How many clients follow the bus's event stream. */
export function eventClients(): number {
  return positiveIntegerFrom(ENV_EVENT_CLIENTS, 'a positive integer')
}

/** The positive integer the parent passed in the environment variable `name`. */
function positiveIntegerFrom(name: string, what: string): number {
  const value = Number(process.env[name])
  if (!Number.isInteger(value) || value <= 0) {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      `${name} must be ${what}, got '${process.env[name]}'.`,
    )
  }
  return value
}

/** `host:port` of nats-server, for the NATS services. */
export function natsServer(): string {
  const server = process.env[ENV_NATS_SERVER]
  if (server === undefined || server === '') {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      `${ENV_NATS_SERVER} must be the host:port of nats-server, got '${server}'.`,
    )
  }
  return server
}

/**
 * Connects a child process to the parent: says it is ready, then answers the parent's
 * commands (usage, load, routes, stop) until told to stop. A child whose parent is gone exits,
 * so a crashed run never leaves servers behind.
 */
export function serveParent(role: ChildRole): void {
  const send = process.send?.bind(process)
  if (send === undefined) {
    throw new InvalidArgumentError(
      ErrorCodes.INVALID_OPTION,
      'A benchmark child must be started with an IPC channel (child_process.fork), got none.',
    )
  }
  process.on('disconnect', () => process.exit(1))
  process.on('message', (message: CommandMessage) => {
    void answer(role, message.command).then(
      (value) => {
        const reply: AnswerMessage = { seq: message.seq, ok: true, value }
        send(reply, undefined, {}, () => {
          // Exiting through process.exit lets --cpu-prof write its profile.
          if (message.command.type === 'stop') process.exit(0)
        })
      },
      (error: unknown) => {
        const reply: AnswerMessage = {
          seq: message.seq,
          ok: false,
          error: error instanceof Error ? (error.stack ?? error.message) : String(error),
        }
        send(reply)
      },
    )
  })
  const ready: ReadyMessage = { ready: true, port: role.port }
  send(ready)
}

async function answer(role: ChildRole, command: Command): Promise<unknown> {
  switch (command.type) {
    case 'usage':
      return usage()
    case 'load':
      return load(role, command.options)
    case 'routes':
      if (role.routes === undefined) throw wrongRole(`takes no routes`)
      role.routes(command.routes)
      return undefined
    case 'registrations':
      if (role.registrations === undefined) throw wrongRole('runs no registration flood')
      return role.registrations()
    case 'stop':
      await role.stop()
      return undefined
  }
}

function usage(): Usage {
  const { user, system } = process.cpuUsage()
  return { cpuMicros: user + system, rssBytes: process.memoryUsage.rss() }
}

function load(role: ChildRole, options: LoadOptions): Promise<LoadResult> {
  if (role.request === undefined) throw wrongRole('does not generate load')
  return runLoad(role.request, options)
}

function wrongRole(what: string): InvalidArgumentError {
  return new InvalidArgumentError(
    ErrorCodes.INVALID_OPTION,
    `The process '${process.argv[1]}' ${what}: the command was sent to the wrong process.`,
  )
}
