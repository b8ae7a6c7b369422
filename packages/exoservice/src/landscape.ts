import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEFAULT_EXOCOM_PORT, type ExoCom, startExoCom } from '@exorelay/exocom'
import { pino } from 'pino'
import pretty from 'pino-pretty'
import { type ApplicationService, readApplicationFile } from './application-file.js'
import { ExoServiceError, ExoServiceErrorCodes, thrownMessage } from './errors.js'
import { freePorts } from './free-ports.js'
import { createLineWriter, type OutputLine, parseRecord } from './log-output.js'
import type { ServiceFile } from './service-file.js'
import { describeExit, type ExitStatus, ServiceProcess, StartFailure } from './service-process.js'

/** How long a landscape's service may take to print its online text unless told otherwise: 60 s. */
export const DEFAULT_START_TIMEOUT = 60_000

/** How long a landscape's service may take to exit after SIGTERM unless told otherwise: 15 s. */
export const DEFAULT_STOP_GRACE = 15_000

/** The name the bus's lines are prefixed with. */
export const BUS_NAME = 'exocom'

/** Options of {@link startLandscape}. */
export interface StartLandscapeOptions {
  /** The application file: the bus and the service folders. */
  file: string
  /**
   * The bus's port; `0` picks a free one. Ignored with `EXORELAY_TRANSPORT=nats` (no bus runs).
   * @default the application file's `bus.port`, then env `EXOCOM_PORT`, then `3100`
   */
  busPort?: number | undefined
  /**
   * Receives every line of output of the bus and of each service, with its pino record when the
   * line is JSON (services run with `LOG_FORMAT=json`). Replaces the default output: use
   * {@link createLineWriter} to print the lines you do not handle yourself.
   * @default each line prefixed with its service's name on stdout; pretty and coloured on a terminal
   */
  onLine?: ((line: OutputLine) => void) | undefined
  /**
   * The environment the services inherit (the runner's own variables are set on top).
   * @default `process.env`
   */
  env?: NodeJS.ProcessEnv | undefined
  /**
   * More environment variables for one service, set last: e.g. `PORT` for a web service.
   * @default none
   */
  serviceEnv?: ((service: ApplicationService) => Record<string, string>) | undefined
  /**
   * Node options every service starts with, added to `NODE_OPTIONS`: e.g.
   * `['--import', preloadUrl]` to load a tracing preload into each of them.
   * @default `[]`
   */
  nodeOptions?: readonly string[] | undefined
  /**
   * Milliseconds each service may take to print its online text. Longer than `exoservice run`'s
   * own startup timeout (30 s for `beforeAll`), which tsx's compile of the service comes on top
   * of: a slow `beforeAll` is reported by the service itself, with its error, not as a silence.
   * @default `60_000`
   */
  startTimeout?: number | undefined
  /**
   * Milliseconds a service may take to exit after SIGTERM before it gets SIGKILL. Longer than a
   * relay's `closeTimeout` (10 s for its handlers in flight), so that a service that closes
   * gracefully is not killed before its `afterAll` runs.
   * @default `15_000`
   */
  stopGrace?: number | undefined
  /** Aborting it while the landscape starts stops what started and rejects with `signal.reason`. */
  signal?: AbortSignal | undefined
}

/** A service of a running landscape. */
export interface LandscapeService {
  /** Its name in the application file: its `SERVICE_NAME` and its name on the bus. */
  name: string
  /** Its folder. */
  folder: string
  /**
   * The port the service said it is online at (the `port` of its online line's record: a web
   * server's own port, say), else the `EXORELAY_PORT` the runner gave it. `undefined` over NATS
   * (`EXORELAY_TRANSPORT=nats`), where the runner gives no ports, unless the online line names
   * one (a relay over NATS logs port 0: none).
   */
  port: number | undefined
  /** Its `service.yml`. */
  service: ServiceFile
  /** The line that said it was online (its record has `port` when the service logs one). */
  online: OutputLine
}

/** Why a landscape stopped: {@link Landscape.stop} was called, or a service exited on its own. */
export type LandscapeEnd =
  | { reason: 'stopped' }
  | {
      reason: 'service-exited'
      /** The service that exited. */
      name: string
      /** How it exited. */
      status: ExitStatus
      /** Its last lines of output (at most 10), oldest first. */
      lastLines: readonly string[]
    }

/** A running landscape: the bus and every service of an application file, online. */
export interface Landscape {
  /** The application's name from the application file. */
  readonly name: string | undefined
  /** The bus's port, or `undefined` when the services use NATS (`EXORELAY_TRANSPORT=nats`). */
  readonly busPort: number | undefined
  /** The services, in the application file's order. */
  readonly services: readonly LandscapeService[]
  /**
   * Resolves once everything has stopped: after {@link Landscape.stop}, or after a service
   * exited on its own, which stops the other services and the bus too. Never rejects.
   */
  readonly stopped: Promise<LandscapeEnd>
  /** Stops the services (SIGTERM, SIGKILL after `stopGrace`), then the bus. Idempotent. */
  stop(): Promise<void>
  /** SIGKILL to every service at once, no waiting: for a second Ctrl-C. */
  kill(): void
}

/**
 * Runs a landscape: reads the application file and every `service.yml`, starts ExoCom in this
 * process with a routing table built from the `service.yml` files, starts every service with
 * its `startup.command` in its folder (`SERVICE_NAME`, `EXOCOM_HOST`, `EXOCOM_PORT`,
 * `EXORELAY_PORT` and `LOG_FORMAT=json` set), and resolves once each has printed its online
 * text. A service that does not come online is reported (an `ExoServiceError` coded
 * `EXOSERVICE_ERR_STARTUP` with its last lines) after the others and the bus are stopped; so
 * is anything else that fails on the way (a throwing `serviceEnv`, say). With
 * `EXORELAY_TRANSPORT=nats` no bus is started and no ports are given: the services use
 * `NATS_URL`. Linux and macOS only (process groups and `sh -c`): on Windows it rejects with
 * `EXOSERVICE_ERR_STARTUP`.
 *
 * @example
 * ```ts
 * import { startLandscape } from 'exoservice'
 *
 * const landscape = await startLandscape({ file: 'application.yml' })
 * console.log(landscape.services.map(({ name, port }) => `${name} at ${port}`))
 * await landscape.stop()
 * ```
 */
export async function startLandscape(options: StartLandscapeOptions): Promise<Landscape> {
  const {
    startTimeout = DEFAULT_START_TIMEOUT,
    stopGrace = DEFAULT_STOP_GRACE,
    env = process.env,
    nodeOptions = [],
    signal,
  } = options
  signal?.throwIfAborted()
  if (process.platform === 'win32') {
    throw new ExoServiceError(
      ExoServiceErrorCodes.STARTUP,
      'The landscape runner runs on Linux and macOS only: it starts each service in a process group of its own, to stop it with whatever it started, and runs startup commands through `sh -c`; Windows has neither. Run it in WSL, or start the bus (`exocom`) and each service (`exoservice run`) yourself.',
    )
  }
  const application = await readApplicationFile(options.file)
  const onLine = options.onLine ?? printLines(application.services.map(({ name }) => name))
  const overNats = usesNats(env)
  if (overNats && !env.NATS_URL) {
    throw new ExoServiceError(
      ExoServiceErrorCodes.STARTUP,
      'EXORELAY_TRANSPORT=nats needs NATS_URL, the address of a running nats-server (e.g. nats://127.0.0.1:4222): set it, or unset EXORELAY_TRANSPORT to run the bundled bus.',
    )
  }
  const busPort = overNats
    ? undefined
    : (options.busPort ?? application.bus.port ?? portFromEnv(env))

  let bus: ExoCom | undefined
  const children: ServiceProcess[] = []
  let stopping: Promise<void> | undefined
  const kill = (): void => {
    for (const child of children) child.kill()
  }
  // Whatever happens to this process, its services (in process groups of their own) must not
  // outlive it.
  process.on('exit', kill)
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await Promise.all(
        children.map(async (child) => {
          await child.stop(stopGrace)
          // A kill cuts a graceful close short (its afterAll, say): never silently.
          if (child.killed) {
            onLine({
              service: child.name,
              text: `did not exit within ${stopGrace} ms of SIGTERM and was killed (SIGKILL): what it was closing did not finish. Give it longer with stopGrace (exoservice landscape --stop-grace <ms>).`,
              record: undefined,
              stream: 'stderr',
            })
          }
        }),
      )
      // Last, so that the bus sees each service withdraw.
      await bus?.close()
      process.off('exit', kill)
    })()
    return stopping
  }

  // The first service that exits while nobody stops it: during the start, one that was already
  // online (the others report their exit through their own start); after it, any.
  const online = new Set<ServiceProcess>()
  let exitedOnItsOwn: (child: ServiceProcess, status: ExitStatus) => void = () => {}
  const firstExit = new Promise<{ child: ServiceProcess; status: ExitStatus }>((resolve) => {
    exitedOnItsOwn = (child, status) => resolve({ child, status })
  })

  // From the bus's start to the last service online, anything that throws (a bus that cannot
  // start, a serviceEnv that throws, a spawn that throws, a service that does not come online,
  // the caller's abort) stops what started so far: nothing is left listening or running.
  const abortion = signal === undefined ? undefined : rejectOnAbort(signal)
  let ports: Map<string, number> | undefined
  let onlineLines: OutputLine[]
  try {
    if (busPort !== undefined) {
      // The bus first, with an empty table: the services' ports are probed while it listens,
      // so that none of them can be its port.
      bus = await startBus(busPort, onLine, env.EXOCOM_TOKEN || undefined)
      signal?.throwIfAborted()
      const probed = await freePorts(application.services.length)
      ports = new Map(application.services.map(({ name }, index) => [name, probed[index]!]))
      setRoutingTable(bus, application.services, ports)
      signal?.throwIfAborted()
    }

    for (const entry of application.services) {
      const serviceEnv: NodeJS.ProcessEnv = {
        ...env,
        SERVICE_NAME: entry.name,
        // The runner reads each line's record; it pretty-prints on a terminal itself.
        LOG_FORMAT: 'json',
        ...(bus !== undefined && {
          EXOCOM_HOST: '127.0.0.1',
          EXOCOM_PORT: String(bus.port),
          EXORELAY_PORT: String(ports?.get(entry.name)),
        }),
        ...withNodeOptions(env.NODE_OPTIONS, nodeOptions),
        ...options.serviceEnv?.(entry),
      }
      const child = new ServiceProcess({
        name: entry.name,
        ...commandOf(entry.service.startup.command, entry.folder, serviceEnv),
        cwd: entry.folder,
        onlineText: entry.service.startup.onlineText,
        startTimeout,
        onLine,
      })
      children.push(child)
      void child.exited.then((status) => {
        if (stopping === undefined && online.has(child)) exitedOnItsOwn(child, status)
      })
    }

    onlineLines = await Promise.race([
      Promise.all(
        children.map((child) =>
          child.online.then(
            (line) => {
              online.add(child)
              return line
            },
            (error: unknown) => {
              throw startError(child, error)
            },
          ),
        ),
      ),
      firstExit.then(({ child, status }) => {
        throw startError(
          child,
          new StartFailure(`it ${describeExit(status)} while the others were starting`),
        )
      }),
      ...(abortion === undefined ? [] : [abortion.aborted]),
    ])
  } catch (error) {
    await stop()
    throw error
  } finally {
    abortion?.off()
  }

  let requestStop: () => void = () => {}
  const stopRequested = new Promise<void>((resolve) => {
    requestStop = resolve
  })
  const stopped = Promise.race([
    firstExit.then(async ({ child, status }): Promise<LandscapeEnd> => {
      await stop()
      return { reason: 'service-exited', name: child.name, status, lastLines: child.lastLines }
    }),
    stopRequested.then(async (): Promise<LandscapeEnd> => {
      await stop()
      return { reason: 'stopped' }
    }),
  ])

  return {
    name: application.name,
    busPort: bus?.port,
    services: application.services.map((entry, index) => {
      const line = onlineLines[index]!
      return {
        name: entry.name,
        folder: entry.folder,
        port: announcedPort(line) ?? ports?.get(entry.name),
        service: entry.service,
        online: line,
      }
    }),
    stopped,
    stop: () => {
      requestStop()
      return stop()
    },
    kill,
  }
}

/** True when the services talk over NATS (`EXORELAY_TRANSPORT=nats`): the runner starts no bus. */
export function usesNats(env: NodeJS.ProcessEnv): boolean {
  return env.EXORELAY_TRANSPORT?.trim().toLowerCase() === 'nats'
}

/**
 * The port a service's online line names (its record's `port`), if a real one: a relay over
 * NATS logs port 0, which is no port at all.
 */
function announcedPort(line: OutputLine): number | undefined {
  const port = line.record?.port
  return typeof port === 'number' && Number.isInteger(port) && port > 0 ? port : undefined
}

/** Gives the bus the routing table of the `service.yml` files: each service at its port. */
function setRoutingTable(
  bus: ExoCom,
  services: readonly ApplicationService[],
  ports: ReadonlyMap<string, number>,
): void {
  try {
    bus.setServices(
      services.map(({ name, service }) => ({
        name,
        host: '127.0.0.1',
        port: ports.get(name)!,
        receives: service.receives,
        sends: service.sends,
      })),
    )
  } catch (cause) {
    throw new ExoServiceError(
      ExoServiceErrorCodes.STARTUP,
      `The bus refused the routing table built from the service.yml files: ${thrownMessage(cause)}. Fix the service.yml it names.`,
      { cause },
    )
  }
}

/** Starts the bus in this process, its log lines going out as the `exocom` service's. */
async function startBus(
  port: number,
  onLine: (line: OutputLine) => void,
  // The services read EXOCOM_TOKEN from the same environment: a bus without it would refuse
  // every one of their requests.
  token: string | undefined,
): Promise<ExoCom> {
  const logger = pino(
    { level: 'info' },
    {
      write: (chunk: string) => {
        for (const text of chunk.split('\n')) {
          if (text === '') continue
          onLine({ service: BUS_NAME, text, record: parseRecord(text), stream: 'stdout' })
        }
      },
    },
  )
  try {
    return await startExoCom({ port, host: '127.0.0.1', logger, token })
  } catch (cause) {
    throw new ExoServiceError(
      ExoServiceErrorCodes.STARTUP,
      `The bus could not start on port ${port}: ${thrownMessage(cause)}. Choose another port: \`exoservice landscape --port <n>\`, bus.port in the application file, or EXOCOM_PORT.`,
      { cause },
    )
  }
}

/**
 * How a `startup.command` is run: `exoservice run …` with this package's own bin and this Node
 * binary (no PATH lookup, no parsing by a shell: the runner's version runs the services);
 * anything else as `sh -c` would run it, with the folder's and its ancestors'
 * `node_modules/.bin` on PATH, as an npm script would find its tools. Both behind
 * {@link WATCH_RUNNER}, in the shell that then becomes (or runs) the service.
 */
function commandOf(
  command: string,
  folder: string,
  env: NodeJS.ProcessEnv,
): { file: string; args: string[]; env: NodeJS.ProcessEnv } {
  const [program, subcommand, ...rest] = command.trim().split(/\s+/)
  if (program === 'exoservice' && subcommand === 'run') {
    return {
      file: 'sh',
      args: [
        '-c',
        `${WATCH_RUNNER} exec "$@"`,
        'sh',
        process.execPath,
        EXOSERVICE_BIN,
        'run',
        ...rest,
      ],
      env,
    }
  }
  const bins: string[] = []
  for (let dir = folder; ; dir = dirname(dir)) {
    bins.push(join(dir, 'node_modules', '.bin'))
    if (dirname(dir) === dir) break
  }
  const path = [...bins, env.PATH].filter((part) => part !== undefined && part !== '')
  return {
    file: 'sh',
    args: ['-c', `${WATCH_RUNNER} eval "$1"`, 'sh', command],
    env: { ...env, PATH: path.join(delimiter) },
  }
}

/**
 * The start of each service's shell: a watcher in the service's process group that reads fd 3,
 * a pipe only the runner holds the other end of, and sends SIGTERM to the whole group once it
 * ends: when the runner is gone, even killed with SIGKILL (which it cannot handle), its services
 * stop instead of keeping their ports. The service itself does not get fd 3.
 */
const WATCH_RUNNER = '(read _ <&3; kill -s TERM 0) >/dev/null 2>&1 & exec 3<&-;'

const EXOSERVICE_BIN = fileURLToPath(new URL('../bin/exoservice.js', import.meta.url))

/** `NODE_OPTIONS` with `extra` added, each quoted when it holds a space; nothing when no extra. */
function withNodeOptions(
  current: string | undefined,
  extra: readonly string[],
): { NODE_OPTIONS?: string } {
  if (extra.length === 0) return {}
  const added = extra.map((option) => (/\s/.test(option) ? JSON.stringify(option) : option))
  return { NODE_OPTIONS: [current, ...added].filter((part) => part).join(' ') }
}

/** The default output: each line prefixed with its service's name, pretty on a terminal. */
function printLines(names: string[]): (line: OutputLine) => void {
  const terminal = process.stdout.isTTY === true
  return createLineWriter({
    pretty: terminal,
    colors: terminal && pretty.isColorSupported,
    nameWidth: Math.max(BUS_NAME.length, ...names.map((name) => name.length)),
    write: (text) => process.stdout.write(text),
  })
}

/** A start failure as the caller sees it: which service, why, and what it said last. */
function startError(child: ServiceProcess, error: unknown): ExoServiceError {
  const reason = error instanceof Error ? error.message : String(error)
  const lines = child.lastLines
  const said =
    lines.length === 0
      ? ' It printed nothing.'
      : ` Its last lines:\n${lines.map((line) => `  ${child.name} | ${line}`).join('\n')}\n`
  return new ExoServiceError(
    ExoServiceErrorCodes.STARTUP,
    `${child.name} did not start: ${reason}.${said} Run its startup command in its folder to see why, check startup.online-text in its service.yml, or give it longer (exoservice landscape --start-timeout <ms>).`,
    { cause: error },
  )
}

/**
 * A promise that rejects with the signal's reason once it aborts, and `off()`, which removes
 * the listener: a long-lived signal (a launcher's) must not collect one per start.
 */
function rejectOnAbort(signal: AbortSignal): { aborted: Promise<never>; off: () => void } {
  let onAbort = (): void => {}
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(signal.reason)
  })
  // The start may end on a throwIfAborted() before it races this promise.
  aborted.catch(() => {})
  if (signal.aborted) onAbort()
  else signal.addEventListener('abort', onAbort, { once: true })
  return { aborted, off: () => signal.removeEventListener('abort', onAbort) }
}

/** The bus port from env `EXOCOM_PORT`, else 3100. */
function portFromEnv(env: NodeJS.ProcessEnv): number {
  const value = env.EXOCOM_PORT
  if (value === undefined || value.trim() === '') return DEFAULT_EXOCOM_PORT
  const port = Number(value)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ExoServiceError(
      ExoServiceErrorCodes.STARTUP,
      `EXOCOM_PORT must be a port number from 0 to 65535, got '${value}': fix or unset it.`,
    )
  }
  return port
}
