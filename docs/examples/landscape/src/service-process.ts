import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { type LogRecord, type OutputLine, parseRecord } from './log-output.js'

/** How a child process ended. */
export interface ExitStatus {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface ServiceProcessOptions {
  /** The name its output lines are prefixed with. */
  name: string
  /** Arguments to `node` (this Node binary). */
  args: string[]
  cwd: string
  env: NodeJS.ProcessEnv
  /** True for the log record that says the service is up. */
  isReady: (record: LogRecord) => boolean
  /** Milliseconds to wait for that record before giving up. */
  startTimeout: number
  /** Receives every line the child writes. */
  onLine: (line: OutputLine) => void
}

/** Why a service did not become ready; `service` has the details in its last error. */
export class StartError extends Error {
  readonly service: string

  constructor(service: string, reason: string) {
    super(`${service} failed to start: ${reason}`)
    this.service = service
  }
}

// 'error' is pino's level 50: the last such line is the best answer to "why did it stop?".
const ERROR_LEVEL = 50

/**
 * One service of the landscape, running as a child process of this Node binary. Knows when
 * it is ready (a log line), why it failed (its last error line), and how to stop it.
 */
export class ServiceProcess {
  readonly name: string
  /** Resolves with the ready record; rejects if the child exits or times out before it. */
  readonly ready: Promise<LogRecord>
  /** Resolves when the child has exited and its output is read. Never rejects. */
  readonly exited: Promise<ExitStatus>
  readonly #child: ChildProcess
  #status: ExitStatus | undefined
  #lastError: string | undefined

  constructor(options: ServiceProcessOptions) {
    this.name = options.name
    this.#child = spawn(process.execPath, options.args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // A process group of its own: a Ctrl-C on the terminal reaches only the launcher, which
      // then stops the services before the bus, so the bus sees each of them withdraw.
      detached: true,
    })

    let markReady: (record: LogRecord) => void = () => {}
    let failStart: (error: Error) => void = () => {}
    this.ready = new Promise<LogRecord>((resolve, reject) => {
      markReady = resolve
      failStart = reject
    })
    // Awaited by the launcher, but it may have stopped listening (a stop signal came first).
    this.ready.catch(() => {})
    let started = false
    const timer = setTimeout(() => {
      failStart(
        new StartError(
          this.name,
          `it did not report ready within ${options.startTimeout / 1000} s`,
        ),
      )
    }, options.startTimeout)

    const read = (stream: NodeJS.ReadableStream | null, kind: 'stdout' | 'stderr') => {
      if (stream === null) return Promise.resolve()
      const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })
      lines.on('line', (text) => {
        const record = parseRecord(text)
        if (kind === 'stderr' && text.trim() !== '') this.#lastError = text.trim()
        if (record !== undefined && (record.level ?? 0) >= ERROR_LEVEL) {
          this.#lastError = describeRecord(record)
        }
        options.onLine({ service: this.name, text, record, stream: kind })
        if (!started && record !== undefined && options.isReady(record)) {
          started = true
          clearTimeout(timer)
          markReady(record)
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
        failStart(new StartError(this.name, `it ${describeExit(status)} before it was ready`))
        resolve(status)
      }
      // 'close' comes after 'exit' and the end of the output, so every line has been seen.
      this.#child.once('close', (code, signal) => {
        void outputRead.then(() => finish({ code, signal }))
      })
      this.#child.once('error', (error) => {
        this.#lastError = error.message
        // A child that could not be spawned never emits 'close'.
        if (this.#child.pid === undefined) finish({ code: null, signal: null })
      })
    })
  }

  /** True until the child has exited. */
  get running(): boolean {
    return this.#status === undefined
  }

  /** The last error the child reported (an error-level log line or a stderr line), if any. */
  get lastError(): string | undefined {
    return this.#lastError
  }

  /**
   * Sends SIGTERM and waits for the exit; SIGKILL when the child is still there after `grace`
   * milliseconds. Resolves with how it exited.
   */
  async stop(grace: number): Promise<ExitStatus> {
    if (this.#status !== undefined) return this.#status
    this.#child.kill('SIGTERM')
    const timer = setTimeout(() => {
      if (this.running) this.#child.kill('SIGKILL')
    }, grace)
    const status = await this.exited
    clearTimeout(timer)
    return status
  }

  /** Last resort when the launcher itself is exiting: no waiting. */
  kill(): void {
    if (this.running) this.#child.kill('SIGKILL')
  }
}

/** `exited with code 1`, `was killed by SIGKILL`. */
export function describeExit(status: ExitStatus): string {
  if (status.signal !== null) return `was killed by ${status.signal}`
  if (status.code === null) return 'could not be started'
  return `exited with code ${status.code}`
}

function describeRecord(record: LogRecord): string {
  const err = record.err as { message?: unknown } | undefined
  const detail = typeof err?.message === 'string' ? `: ${err.message}` : ''
  return `${record.msg ?? 'error'}${detail}`
}
