import { type ChildProcess, execFileSync, fork } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type {
  AnswerMessage,
  Command,
  CommandMessage,
  CommandResults,
  ReadyMessage,
  Usage,
} from './ipc.js'

/** One process of a system under test, whose CPU time and memory count towards the system. */
export interface MeasuredProcess {
  /** Its role: `bus` (nats-server for NATS), `responder` or `requester`. */
  readonly label: string
  readonly pid: number
  usage(): Promise<Usage>
  stop(): Promise<void>
}

/** How long a child may take to start and say it is ready (tsx compiles on the first start). */
const READY_TIMEOUT = 30_000
/** How long a child may take to close its servers and exit when asked. */
const STOP_TIMEOUT = 10_000

// Every child that was started and has not exited: stopped on the way out, even after a crash.
const live = new Set<ChildProcess>()
const liveExternal = new Set<ExternalProcess>()

/** Kills whatever children are still running; for the exit path of the CLI. */
export function killAll(): void {
  for (const child of live) child.kill('SIGKILL')
  live.clear()
  // stop() sends SIGKILL at once; its exit is not waited for on the way out.
  for (const external of liveExternal) void external.stop()
  liveExternal.clear()
}

export interface NodeChildOptions {
  /** Extra environment for the child (on top of the parent's). */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Extra node flags, e.g. `--cpu-prof`. */
  readonly execArgv?: readonly string[] | undefined
}

/**
 * A Node.js child running one `src/*.ts` entry through tsx, talking to the parent over IPC:
 * it reports readiness, its usage (`process.cpuUsage()`, RSS) and, for the requester, runs
 * load phases. Usage comes from the process itself, so it is exact to the microsecond.
 */
export class NodeChild implements MeasuredProcess {
  readonly label: string
  readonly pid: number
  /** The port the child listens on (0 when it does not). */
  readonly port: number
  readonly #child: ChildProcess
  readonly #waiting = new Map<
    number,
    { resolve(value: unknown): void; reject(error: Error): void }
  >()
  readonly #exited: Promise<number | null>
  #seq = 0

  private constructor(
    label: string,
    child: ChildProcess,
    port: number,
    exited: Promise<number | null>,
  ) {
    this.label = label
    this.pid = child.pid!
    this.port = port
    this.#child = child
    this.#exited = exited
    child.on('message', (message: AnswerMessage) => {
      const waiter = this.#waiting.get(message.seq)
      if (waiter === undefined) return
      this.#waiting.delete(message.seq)
      if (message.ok) waiter.resolve(message.value)
      else waiter.reject(new Error(`The ${label} process failed: ${message.error}`))
    })
    void exited.then((code) => {
      for (const waiter of this.#waiting.values()) {
        waiter.reject(new Error(`The ${label} process exited with code ${code} while busy.`))
      }
      this.#waiting.clear()
    })
  }

  /** Starts `entry` (a file name in src/) and resolves once it said it is ready. */
  static start(label: string, entry: string, options: NodeChildOptions = {}): Promise<NodeChild> {
    const script = fileURLToPath(new URL(entry, import.meta.url))
    const child = fork(script, [], {
      execArgv: ['--import', import.meta.resolve('tsx'), ...(options.execArgv ?? [])],
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    live.add(child)
    const exited = new Promise<number | null>((resolve) => {
      child.on('exit', (code) => {
        live.delete(child)
        resolve(code)
      })
    })
    return new Promise<NodeChild>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`The ${label} process was not ready within ${READY_TIMEOUT} ms.`))
      }, READY_TIMEOUT)
      const onReady = (message: ReadyMessage): void => {
        if (message?.ready !== true) return
        clearTimeout(timer)
        child.off('message', onReady)
        resolve(new NodeChild(label, child, message.port, exited))
      }
      child.on('message', onReady)
      void exited.then((code) => {
        clearTimeout(timer)
        reject(new Error(`The ${label} process exited with code ${code} before it was ready.`))
      })
    })
  }

  /** Sends one command and resolves with the child's answer. */
  request<Type extends Command['type']>(
    command: Extract<Command, { type: Type }>,
  ): Promise<CommandResults[Type]> {
    const seq = ++this.#seq
    return new Promise((resolve, reject) => {
      this.#waiting.set(seq, { resolve: resolve as (value: unknown) => void, reject })
      const message: CommandMessage = { seq, command }
      this.#child.send(message)
    })
  }

  usage(): Promise<Usage> {
    return this.request({ type: 'usage' })
  }

  /** Asks the child to close its servers and exit; kills it if it does not in time. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), STOP_TIMEOUT)
    await this.request({ type: 'stop' }).catch(() => {})
    await this.#exited
    clearTimeout(timer)
  }
}

/** What {@link ExternalProcess} measures and stops: a server started by another module. */
export interface ExternalHandle {
  readonly pid: number | undefined
  stop(): Promise<void>
}

/**
 * A process that is not Node.js (nats-server, started by @exorelay/testing). Its CPU time and
 * RSS come from `/proc/<pid>/stat` and `/proc/<pid>/status`: CPU at clock-tick resolution
 * (10 ms on Linux), fine for phases of seconds.
 */
export class ExternalProcess implements MeasuredProcess {
  readonly label: string
  readonly pid: number
  readonly #handle: ExternalHandle

  constructor(label: string, handle: ExternalHandle) {
    if (handle.pid === undefined) throw new Error(`The ${label} process is not running.`)
    this.label = label
    this.pid = handle.pid
    this.#handle = handle
    liveExternal.add(this)
  }

  async usage(): Promise<Usage> {
    return procUsage(this.pid)
  }

  async stop(): Promise<void> {
    liveExternal.delete(this)
    await this.#handle.stop()
  }
}

let clockTicks: number | undefined

/** CPU time and RSS of any process, from Linux's /proc. */
export function procUsage(pid: number): Usage {
  clockTicks ??= readClockTicks()
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may contain spaces and parentheses: split after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // Fields 14 and 15 (utime, stime) are at 11 and 12 once pid and name are cut off.
  const ticks = Number(fields[11]) + Number(fields[12])
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const rssKiB = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? Number.NaN)
  return { cpuMicros: (ticks / clockTicks) * 1e6, rssBytes: rssKiB * 1024 }
}

function readClockTicks(): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
    return Number.isInteger(ticks) && ticks > 0 ? ticks : 100
  } catch {
    return 100
  }
}
