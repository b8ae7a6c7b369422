import { type Logger, TimeoutError } from '@exorelay/core'

const DEFAULT_WAIT_TIMEOUT = 5_000
// How many of the latest lines a waitFor timeout quotes, to show what came instead.
const QUOTED_ENTRIES = 5

/** The levels a {@link RecordingLogger} records. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/** One line a {@link RecordingLogger} (or one of its children) was given. */
export interface LogEntry {
  readonly level: LogLevel
  /** The logged fields, after the bindings of every `child()` on the way. */
  readonly fields: Record<string, unknown>
  readonly message: string | undefined
}

interface Waiter {
  readonly match: (entry: LogEntry) => boolean
  readonly resolve: (entry: LogEntry) => void
}

/**
 * A pino-compatible Logger that keeps every line, its children's included, so that a test
 * can assert on what was logged and await a line instead of sleeping.
 *
 * @example
 * ```ts
 * const log = new RecordingLogger()
 * const relay = new ExoRelay({ serviceName: 'web', logger: log })
 * const warning = await log.waitFor((entry) => entry.level === 'warn')
 * assert.equal(warning.fields.messageName, 'users.create')
 * assert.equal(log.find('send failed', 'warn').length, 1)
 * ```
 */
export class RecordingLogger implements Logger {
  #bindings: Record<string, unknown> = {}
  // One record of everything and one set of waiters, shared by a logger and its children.
  #shared: { readonly entries: LogEntry[]; readonly waiters: Set<Waiter> } = {
    entries: [],
    waiters: new Set(),
  }

  /** Every line so far, its children's included, in order. */
  get entries(): readonly LogEntry[] {
    return this.#shared.entries
  }

  /** Records a line at `debug`. */
  debug(fields: object, message?: string): void {
    this.#record('debug', fields, message)
  }

  /** Records a line at `info`. */
  info(fields: object, message?: string): void {
    this.#record('info', fields, message)
  }

  /** Records a line at `warn`. */
  warn(fields: object, message?: string): void {
    this.#record('warn', fields, message)
  }

  /** Records a line at `error`. */
  error(fields: object, message?: string): void {
    this.#record('error', fields, message)
  }

  /** A logger whose lines carry `bindings` too, recorded with this one's. */
  child(bindings: object): Logger {
    const child = new RecordingLogger()
    child.#bindings = { ...this.#bindings, ...bindings }
    child.#shared = this.#shared
    return child
  }

  /** The lines at `level`. */
  at(level: LogLevel): LogEntry[] {
    return this.#shared.entries.filter((entry) => entry.level === level)
  }

  /** The lines with this message, at `level` when one is given. */
  find(message: string, level?: LogLevel): LogEntry[] {
    return this.#shared.entries.filter(
      (entry) => entry.message === message && (level === undefined || entry.level === level),
    )
  }

  /**
   * Resolves with the first line, past or future, that matches. Rejects with a
   * `TimeoutError` (code `EXORELAY_ERR_REPLY_TIMEOUT`) naming the latest lines when none
   * matches within `timeout` ms (default `5_000`), so a test fails instead of hanging.
   *
   * @example
   * ```ts
   * const warning = await log.waitFor((entry) => entry.level === 'warn', { timeout: 1_000 })
   * ```
   */
  waitFor(
    match: (entry: LogEntry) => boolean,
    options: { timeout?: number } = {},
  ): Promise<LogEntry> {
    const found = this.#shared.entries.find(match)
    if (found !== undefined) return Promise.resolve(found)
    const timeout = options.timeout ?? DEFAULT_WAIT_TIMEOUT
    const { entries, waiters } = this.#shared
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve: (entry) => {
          clearTimeout(timer)
          resolve(entry)
        },
      }
      const timer = setTimeout(() => {
        waiters.delete(waiter)
        reject(
          new TimeoutError(
            `waitFor: no log entry matched within ${timeout} ms; last entries: ${describeEntries(entries)}`,
            timeout,
          ),
        )
      }, timeout)
      // The deadline only guards a wait; it must never keep the process alive by itself.
      timer.unref()
      waiters.add(waiter)
    })
  }

  #record(level: LogLevel, fields: object, message: string | undefined): void {
    const entry: LogEntry = { level, fields: { ...this.#bindings, ...fields }, message }
    const { entries, waiters } = this.#shared
    entries.push(entry)
    for (const waiter of waiters) {
      if (!waiter.match(entry)) continue
      waiters.delete(waiter)
      waiter.resolve(entry)
    }
  }
}

/** `level 'message' {fields}` of the latest lines, or `none`. */
function describeEntries(entries: readonly LogEntry[]): string {
  if (entries.length === 0) return 'none'
  return entries
    .slice(-QUOTED_ENTRIES)
    .map((entry) => `${entry.level} '${entry.message ?? ''}' ${safeJson(entry.fields)}`)
    .join('; ')
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? ''
  } catch {
    // A circular or BigInt field: the message alone still says which line it was.
    return '{…}'
  }
}
