import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { accessSync, constants } from 'node:fs'
import { createServer } from 'node:net'
import { delimiter, join } from 'node:path'

// Real nats-server processes for the tests, on free loopback ports. CI installs nats-server
// (.ci/run); a machine without it fails loudly rather than skipping.

const MISSING =
  'nats-server is not installed: the NATS tests need it (apt-get install nats-server).'

function natsServerBinary(): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/bin']
  for (const dir of dirs) {
    if (dir === '') continue
    const candidate = join(dir, 'nats-server')
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // Not in this directory.
    }
  }
  throw new Error(MISSING)
}

/** A port that was free a moment ago: nats-server takes a number, not 0. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

export interface NatsServerOptions {
  /** Route this node to others. */
  cluster?: ClusterOptions
  /** Further command-line arguments, e.g. `['--auth', 'secret']`. */
  args?: string[]
}

interface ClusterOptions {
  /** This node's route port. */
  port: number
  /** The route ports of the other nodes. */
  routes: number[]
}

/** One nats-server process. `stop()` kills it; `start()` starts it again on the same ports. */
export class NatsServer {
  readonly port: number
  readonly #options: NatsServerOptions
  #child: ChildProcess | undefined
  #output = ''
  #outputWaiters: Array<{ pattern: RegExp; resolve: () => void }> = []

  private constructor(port: number, options: NatsServerOptions) {
    this.port = port
    this.#options = options
  }

  /** Starts a server on a free port; resolves once it accepts clients. */
  static async start(options: NatsServerOptions = {}): Promise<NatsServer> {
    const server = new NatsServer(await freePort(), options)
    await server.start()
    return server
  }

  /** Starts a cluster of `size` nodes routed to each other; resolves once every route is up. */
  static async startCluster(size: number): Promise<NatsServer[]> {
    const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()))
    const nodes = await Promise.all(
      routePorts.map((port) =>
        NatsServer.start({
          cluster: { port, routes: routePorts.filter((other) => other !== port) },
        }),
      ),
    )
    await Promise.all(nodes.map((node) => node.waitForOutput(/Route connection created/)))
    return nodes
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null
  }

  async start(): Promise<void> {
    const args = ['--addr', '127.0.0.1', '--port', String(this.port)]
    const { cluster } = this.#options
    if (cluster !== undefined) {
      args.push(
        '--cluster_name',
        'exorelay-test',
        '--cluster',
        `nats://127.0.0.1:${cluster.port}`,
        '--routes',
        cluster.routes.map((port) => `nats://127.0.0.1:${port}`).join(','),
      )
    }
    args.push(...(this.#options.args ?? []))
    this.#output = ''
    const child = spawn(natsServerBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] })
    this.#child = child
    const collect = (chunk: Buffer): void => {
      this.#output += chunk.toString()
      this.#outputWaiters = this.#outputWaiters.filter((waiter) => {
        if (!waiter.pattern.test(this.#output)) return true
        waiter.resolve()
        return false
      })
    }
    child.stdout!.on('data', collect)
    child.stderr!.on('data', collect)
    const exited = once(child, 'exit').then(([code]) => {
      throw new Error(`nats-server exited with code ${code} while starting:\n${this.#output}`)
    })
    await Promise.race([this.waitForOutput(/Server is ready/), exited])
    exited.catch(() => undefined)
  }

  /** Resolves once the server's log contains `pattern` (since its last start). */
  waitForOutput(pattern: RegExp): Promise<void> {
    if (pattern.test(this.#output)) return Promise.resolve()
    return new Promise((resolve) => this.#outputWaiters.push({ pattern, resolve }))
  }

  /** Kills the server (SIGKILL: no lame-duck goodbye, as in a crash) and waits for its exit. */
  async stop(): Promise<void> {
    const child = this.#child
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }
}
