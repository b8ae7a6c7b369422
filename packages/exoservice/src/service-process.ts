import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface, type Interface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { type OutputLine, parseRecord } from './log-output.js'

/** How a child process ended. */
export interface ExitStatus {
  /** The exit code, or `null` when a signal ended it (or it could not be started). */
  code: number | null
  /** The signal that ended it, or `null`. */
  signal: NodeJS.Signals | null
}

/** How the runner starts one service. */
export interface ServiceProcessOptions {
  /** The name its output lines are prefixed with. */
  name: string
  /** The program to run: `sh`, whose script becomes the service or runs it. */
  file: string
  /** The program's arguments. */
  args: string[]
  /** The folder it runs in. */
  cwd: string
  /** Its whole environment. */
  env: NodeJS.ProcessEnv
  /** The text that says it is online: in a line, or in a JSON line's `msg`. */
  onlineText: string
  /** Milliseconds to wait for that text before giving up. */
  startTimeout: number
  /** Receives every line the child writes. */
  onLine: (line: OutputLine) => void
}

/** Why a service did not come online: a sentence, without the service's last lines. */
export class StartFailure extends Error {}

/** Lines of each child kept for a report of why it stopped. */
export const LAST_LINES = 10

/**
 * Milliseconds the child's pipes get to close once it has exited. They close at once unless a
 * process that left its group (a daemon it started) holds them: then the runner stops reading,
 * or it would wait for them forever.
 */
export const PIPE_GRACE = 2_000

/**
 * One service of a landscape, running as a child process in a process group of its own. Knows
 * when it is online (its online text), what it said last (for a report of why it stopped), and
 * how to stop it and everything it started.
 */
// How often stop() looks whether a stopped service's process group is empty.
const GROUP_POLL = 50

export class ServiceProcess {
  readonly name: string
  /** Resolves with the online line; rejects with a {@link StartFailure} if it exits or times out first. */
  readonly online: Promise<OutputLine>
  /** Resolves when the child has exited and its output is read. Never rejects. */
  readonly exited: Promise<ExitStatus>
  readonly #child: ChildProcess
  readonly #lastLines: string[] = []
  #status: ExitStatus | undefined
  #killed = false

  constructor(options: ServiceProcessOptions) {
    this.name = options.name
    this.#child = spawn(options.file, options.args, {
      cwd: options.cwd,
      env: options.env,
      // fd 3: the pipe the service's watcher reads; it ends when this process does.
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      // A process group of its own: a Ctrl-C on the terminal reaches only the runner, which then
      // stops the services before the bus, so the bus sees each of them withdraw; and a stop
      // reaches the service behind `sh -c` too, and whatever it started.
      detached: true,
    })

    let markOnline: (line: OutputLine) => void = () => {}
    let failStart: (error: Error) => void = () => {}
    this.online = new Promise<OutputLine>((resolve, reject) => {
      markOnline = resolve
      failStart = reject
    })
    // Awaited by the runner, but it may have stopped listening (a stop came first).
    this.online.catch(() => {})
    let started = false
    const timer = setTimeout(() => {
      failStart(
        new StartFailure(
          `it did not print '${options.onlineText}' within ${options.startTimeout / 1000} s`,
        ),
      )
    }, options.startTimeout)

    const readers: Interface[] = []
    const read = (stream: NodeJS.ReadableStream | null, kind: 'stdout' | 'stderr') => {
      if (stream === null) return Promise.resolve()
      const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })
      readers.push(lines)
      lines.on('line', (text) => {
        const record = parseRecord(text)
        const line: OutputLine = { service: this.name, text, record, stream: kind }
        if (text.trim() !== '') {
          this.#lastLines.push(text)
          if (this.#lastLines.length > LAST_LINES) this.#lastLines.shift()
        }
        options.onLine(line)
        if (!started && isOnline(line, options.onlineText)) {
          started = true
          clearTimeout(timer)
          markOnline(line)
        }
      })
      return new Promise<void>((resolve) => lines.once('close', resolve))
    }
    const outputRead = Promise.all([
      read(this.#child.stdout, 'stdout'),
      read(this.#child.stderr, 'stderr'),
    ])

    this.exited = new Promise<ExitStatus>((resolve) => {
      const finish = (status: ExitStatus) => {
        if (this.#status !== undefined) return
        this.#status = status
        clearTimeout(timer)
        failStart(
          new StartFailure(`it ${describeExit(status)} before it printed '${options.onlineText}'`),
        )
        resolve(status)
      }
      // 'close' comes after 'exit' and the end of the output, so every line has been seen.
      this.#child.once('close', (code, signal) => {
        void outputRead.then(() => finish({ code, signal }))
      })
      this.#child.once('exit', () => {
        // The watcher, if it is still there, sends SIGTERM to what is left of the group.
        this.#child.stdio[3]?.destroy()
        const pipes = setTimeout(() => {
          for (const reader of readers) reader.close()
          // Destroyed, the pipes count as closed: 'close' comes.
          this.#child.stdout?.destroy()
          this.#child.stderr?.destroy()
        }, PIPE_GRACE)
        this.#child.once('close', () => clearTimeout(pipes))
      })
      this.#child.once('error', (error) => {
        this.#lastLines.push(error.message)
        // A child that could not be spawned never emits 'close'.
        if (this.#child.pid === undefined) finish({ code: null, signal: null })
      })
    })
  }

  /** True until the child has exited. */
  get running(): boolean {
    return this.#status === undefined
  }

  /** The last lines the child wrote (at most {@link LAST_LINES}), oldest first. */
  get lastLines(): readonly string[] {
    return this.#lastLines
  }

  /** True once {@link stop} had to SIGKILL what was left of the service after its grace. */
  get killed(): boolean {
    return this.#killed
  }

  /**
   * Sends SIGTERM to the child's process group and waits for the group to empty; SIGKILL to
   * what is left after `grace` milliseconds ({@link killed} says so). Resolves with how the
   * child exited. The group, not the child: a service started through `sh -c` may outlive its
   * shell, which dies of the SIGTERM at once.
   */
  async stop(grace: number): Promise<ExitStatus> {
    const until = Date.now() + grace
    this.#signal('SIGTERM')
    const graceOver = new AbortController()
    await Promise.race([
      this.exited,
      sleep(grace, undefined, { signal: graceOver.signal }).catch(() => {}),
    ])
    graceOver.abort()
    // No event says that a process group emptied: look, briefly, until the grace is over.
    while (this.#groupAlive() && Date.now() < until) await sleep(GROUP_POLL)
    if (this.#groupAlive()) {
      this.#killed = true
      this.#signal('SIGKILL')
    }
    return this.exited
  }

  /** Last resort when the runner itself is exiting: SIGKILL, no waiting. */
  kill(): void {
    // The group, even when its leader exited: a service under `sh -c` may be left.
    if (this.running || this.#groupAlive()) this.#signal('SIGKILL')
  }

  /** True while any process of the child's group is left. */
  #groupAlive(): boolean {
    const pid = this.#child.pid
    if (pid === undefined) return false
    try {
      process.kill(-pid, 0)
      return true
    } catch {
      return false
    }
  }

  #signal(signal: NodeJS.Signals): void {
    const pid = this.#child.pid
    if (pid === undefined) return
    try {
      // The negative pid is the group: `sh -c` and the service it started both get it.
      process.kill(-pid, signal)
    } catch {
      // The group is gone already (the child exited between the check and the kill).
      this.#child.kill(signal)
    }
  }
}

/** True for the line that says a service is online: the text in the line, or in its record's `msg`. */
function isOnline(line: OutputLine, onlineText: string): boolean {
  if (line.record === undefined) return line.text.includes(onlineText)
  return typeof line.record.msg === 'string' && line.record.msg.includes(onlineText)
}

/** `exited with code 1`, `was killed by SIGKILL`. */
export function describeExit(status: ExitStatus): string {
  if (status.signal !== null) return `was killed by ${status.signal}`
  if (status.code === null) return 'could not be started'
  return `exited with code ${status.code}`
}
