import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { ErrorCodes, ListenError, TimeoutError } from '@exorelay/core'
import { findExecutable } from './executables.js'

const HOST = '127.0.0.1'
const DEFAULT_READY_TIMEOUT = 10_000
const DEFAULT_OUTPUT_TIMEOUT = 10_000
// How much of the latest output a waitForOutput timeout quotes.
const QUOTED_OUTPUT = 500
const DEFAULT_CLUSTER_NAME = 'exorelay-test'
// Debian and Ubuntu install nats-server in /usr/sbin, which is not on every user's PATH.
const EXTRA_DIRS = ['/usr/sbin', '/usr/local/bin']
// nats-server writes this line once it accepts clients; waiting for it needs no polling.
const READY_LINE = /Server is ready/

/** Options of {@link startNatsServer}. Every one is optional. */
export interface NatsServerOptions {
  /** Route this node to other nodes of a cluster. Default: none (a single server). */
  cluster?: NatsClusterOptions | undefined
  /** Further command-line arguments, e.g. `['--auth', 's3cret']`. Default: none. */
  args?: readonly string[] | undefined
  /** The nats-server executable. Default: the one {@link findNatsServer} finds. */
  binary?: string | undefined
  /**
   * Milliseconds the server may take to say it is ready; then it is killed and the start
   * rejects with a `TimeoutError`. Default `10_000`.
   */
  readyTimeout?: number | undefined
}

/** Where a node of a cluster listens for routes, and where the other nodes do. */
export interface NatsClusterOptions {
  /** This node's route port. */
  port: number
  /** The route ports of the other nodes. */
  routes: readonly number[]
  /** The cluster's name. Default `'exorelay-test'`. */
  name?: string | undefined
}

/** A running nats-server on a loopback port, started by {@link startNatsServer}. */
export interface NatsServer {
  /** The client port on 127.0.0.1. Stays the same across {@link NatsServer.restart}. */
  readonly port: number
  /** Where clients connect: `nats://127.0.0.1:<port>`. */
  readonly url: string
  /** The process id while it runs, else `undefined`. */
  readonly pid: number | undefined
  /** Whether the process runs. */
  readonly running: boolean
  /**
   * Resolves once the server's log since its last start matches `pattern`. Rejects with a
   * `TimeoutError` quoting the pattern and the latest output when it does not within
   * `timeout` ms (default `10_000`).
   */
  waitForOutput(pattern: RegExp, options?: { timeout?: number }): Promise<void>
  /** Kills the server (SIGKILL: no goodbye to clients, as in a crash) and waits for its exit. */
  stop(): Promise<void>
  /**
   * Starts the server again on the same ports with the same options (stopping it first if it
   * runs); resolves once it accepts clients again. Clients see a server restart.
   */
  restart(): Promise<void>
}

/** Every server still running, killed when this process exits so none is left behind. */
const live = new Set<ChildProcess>()
let exitHookInstalled = false

/**
 * Where `nats-server` is installed: the first executable one on `PATH`, then in `/usr/sbin`
 * and `/usr/local/bin`. `undefined` when there is none, e.g. to skip a test.
 */
export function findNatsServer(): string | undefined {
  return findExecutable('nats-server', EXTRA_DIRS)
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago: for servers that take a port number
 * rather than `0` (nats-server), or an address where nothing listens.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, HOST, () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/**
 * Starts a real `nats-server` on a free port of 127.0.0.1 and resolves once it accepts
 * clients (it logged that it is ready; no sleeps). Rejects with a `ListenError` (code
 * `LISTEN_FAILED`) when nats-server is not installed or exits while starting, and with a
 * `TimeoutError` when it is not ready within `readyTimeout`. A server still running when the
 * process exits is killed.
 *
 * @example
 * ```ts
 * import { startNatsServer } from '@exorelay/testing'
 * import { natsTransport } from '@exorelay/nats-transport'
 *
 * const nats = await startNatsServer()
 * t.after(() => nats.stop())
 * const relay = new Relay({ serviceName: 'users', transport: natsTransport({ servers: nats.url }) })
 * ```
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = options.binary ?? findNatsServer()
  if (binary === undefined) {
    throw new ListenError(
      ErrorCodes.LISTEN_FAILED,
      'nats-server is not installed (neither on PATH nor in /usr/sbin or /usr/local/bin): install it (apt-get install nats-server on Debian and Ubuntu, brew install nats-server on macOS, or a release from https://github.com/nats-io/nats-server/releases), or pass its path as `binary`.',
    )
  }
  const server = new LocalNatsServer(binary, await freePort(), options)
  await server.restart()
  return server
}

/**
 * Starts `size` nats-servers routed to each other as one cluster, and resolves once every
 * node has a route up, so that a subscription on one node reaches the others.
 *
 * @example
 * ```ts
 * const [nodeA, nodeB] = await startNatsCluster(2)
 * t.after(() => Promise.all([nodeA.stop(), nodeB.stop()]))
 * ```
 */
export async function startNatsCluster(
  size: number,
  options: Omit<NatsServerOptions, 'cluster'> = {},
): Promise<NatsServer[]> {
  const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()))
  const started = await Promise.allSettled(
    routePorts.map((port) =>
      startNatsServer({
        ...options,
        cluster: { port, routes: routePorts.filter((other) => other !== port) },
      }),
    ),
  )
  const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []))
  const failed = started.find((result) => result.status === 'rejected')
  if (failed !== undefined) {
    await Promise.all(nodes.map((node) => node.stop()))
    throw failed.reason
  }
  const timeout = options.readyTimeout ?? DEFAULT_READY_TIMEOUT
  await Promise.all(
    nodes.map((node) => node.waitForOutput(/Route connection created/, { timeout })),
  )
  return nodes
}

class LocalNatsServer implements NatsServer {
  readonly port: number
  readonly #binary: string
  readonly #options: NatsServerOptions
  #child: ChildProcess | undefined
  #output = ''
  #waiters: Array<{ readonly pattern: RegExp; readonly resolve: () => void }> = []

  constructor(binary: string, port: number, options: NatsServerOptions) {
    this.#binary = binary
    this.port = port
    this.#options = options
  }

  get url(): string {
    return `nats://${HOST}:${this.port}`
  }

  get pid(): number | undefined {
    return this.running ? this.#child?.pid : undefined
  }

  get running(): boolean {
    const child = this.#child
    return child !== undefined && child.exitCode === null && child.signalCode === null
  }

  waitForOutput(pattern: RegExp, options: { timeout?: number } = {}): Promise<void> {
    const timeout = options.timeout ?? DEFAULT_OUTPUT_TIMEOUT
    return this.#waitForOutput(pattern, timeout, () => {
      const output = this.#output.trim().slice(-QUOTED_OUTPUT) || 'none'
      return `waitForOutput: nats-server on port ${this.port} printed nothing matching ${pattern} within ${timeout} ms; last output: ${output}`
    })
  }

  #waitForOutput(pattern: RegExp, timeout: number, describe: () => string): Promise<void> {
    if (pattern.test(this.#output)) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const waiter = {
        pattern,
        resolve: () => {
          clearTimeout(timer)
          resolve()
        },
      }
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((other) => other !== waiter)
        reject(new TimeoutError(describe(), timeout))
      }, timeout)
      // The deadline only guards a wait; it must never keep the process alive by itself.
      timer.unref()
      this.#waiters.push(waiter)
    })
  }

  async stop(): Promise<void> {
    const child = this.#child
    // No pid: it never started (the 'error' path), and no 'exit' would come.
    if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }

  async restart(): Promise<void> {
    await this.stop()
    this.#output = ''
    const child = spawn(this.#binary, this.#args(), { stdio: ['ignore', 'pipe', 'pipe'] })
    this.#child = child
    live.add(child)
    installExitHook()
    child.once('exit', () => live.delete(child))
    // A spawn that failed never exits; this listener also keeps a late error from crashing.
    child.on('error', () => live.delete(child))
    // Both streams are read for as long as it runs, so a chatty server never blocks on a pipe.
    const collect = (chunk: Buffer): void => {
      this.#output += chunk.toString('utf8')
      this.#waiters = this.#waiters.filter((waiter) => {
        if (!waiter.pattern.test(this.#output)) return true
        waiter.resolve()
        return false
      })
    }
    child.stdout?.on('data', collect)
    child.stderr?.on('data', collect)

    const timeout = this.#options.readyTimeout ?? DEFAULT_READY_TIMEOUT
    const abort = new AbortController()
    const failed = Promise.race([
      once(child, 'error', { signal: abort.signal }).then(([error]: unknown[]) => {
        throw new ListenError(
          ErrorCodes.LISTEN_FAILED,
          `nats-server could not be started from '${this.#binary}': ${String(error)}.`,
          { cause: error },
        )
      }),
      once(child, 'exit', { signal: abort.signal }).then(([code, signal]: unknown[]) => {
        throw new ListenError(
          ErrorCodes.LISTEN_FAILED,
          `nats-server on port ${this.port} exited (${signal ?? `code ${code}`}) before it was ready: ${this.#output.trim()}`,
        )
      }),
    ])
    try {
      const ready = this.#waitForOutput(
        READY_LINE,
        timeout,
        () =>
          `nats-server on port ${this.port} was not ready within ${timeout} ms: ${this.#output.trim()}`,
      )
      await Promise.race([ready, failed])
    } catch (error) {
      await this.stop()
      throw error
    } finally {
      abort.abort()
      // The listeners are gone now; their aborted waits must not count as failures.
      failed.catch(() => {})
    }
  }

  #args(): string[] {
    const args = ['--addr', HOST, '--port', String(this.port)]
    const { cluster } = this.#options
    if (cluster !== undefined) {
      args.push(
        '--cluster_name',
        cluster.name ?? DEFAULT_CLUSTER_NAME,
        '--cluster',
        `nats://${HOST}:${cluster.port}`,
        '--routes',
        cluster.routes.map((port) => `nats://${HOST}:${port}`).join(','),
      )
    }
    args.push(...(this.#options.args ?? []))
    return args
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL')
  })
}
