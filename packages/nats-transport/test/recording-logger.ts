import type { Logger } from '@exorelay/core'

type Level = 'debug' | 'info' | 'warn' | 'error'

interface Waiter {
  match: (record: LogRecord) => boolean
  resolve: () => void
}

export interface LogRecord {
  level: Level
  msg: string | undefined
  [field: string]: unknown
}

/** A Logger that keeps every record, so that tests can assert on logs and await them. */
export class RecordingLogger implements Logger {
  readonly records: LogRecord[]
  readonly #bindings: object
  readonly #waiters: Waiter[]

  constructor(bindings: object = {}, records: LogRecord[] = [], waiters: Waiter[] = []) {
    this.#bindings = bindings
    this.records = records
    this.#waiters = waiters
  }

  debug(fields: object, msg?: string): void {
    this.#write('debug', fields, msg)
  }

  info(fields: object, msg?: string): void {
    this.#write('info', fields, msg)
  }

  warn(fields: object, msg?: string): void {
    this.#write('warn', fields, msg)
  }

  error(fields: object, msg?: string): void {
    this.#write('error', fields, msg)
  }

  child(bindings: object): Logger {
    return new RecordingLogger({ ...this.#bindings, ...bindings }, this.records, this.#waiters)
  }

  /** Records with this message, optionally at this level. */
  find(msg: string, level?: Level): LogRecord[] {
    return this.records.filter(
      (record) => record.msg === msg && (level === undefined || record.level === level),
    )
  }

  /** Resolves at the first record (past or future) that matches. */
  waitFor(match: (record: LogRecord) => boolean): Promise<void> {
    if (this.records.some(match)) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push({ match, resolve }))
  }

  #write(level: Level, fields: object, msg: string | undefined): void {
    const record: LogRecord = { ...this.#bindings, ...fields, level, msg }
    this.records.push(record)
    for (const waiter of this.#waiters.splice(0)) {
      if (waiter.match(record)) waiter.resolve()
      else this.#waiters.push(waiter)
    }
  }
}
