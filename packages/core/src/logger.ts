/**
 * The logging surface ExoRelay needs: pino's, so a pino logger fits as it is, and core keeps
 * no dependency on pino. Object first, message second: `log.debug({ messageId }, 'sent')`.
 */
export interface Logger {
  /** Logs `bindings` (fields of the line) and `message` at `debug`. */
  debug(bindings: object, message?: string): void
  /** Logs at `info`. */
  info(bindings: object, message?: string): void
  /** Logs at `warn`. */
  warn(bindings: object, message?: string): void
  /** Logs at `error`. */
  error(bindings: object, message?: string): void
  /** A logger that adds `bindings` to every line it logs. */
  child(bindings: object): Logger
  /** When present, lets hot paths skip building log objects for a disabled level (pino has it). */
  isLevelEnabled?(level: 'debug' | 'info' | 'warn' | 'error'): boolean
}

const noop = (): void => {}

/** A logger that drops everything. The default of core; the `exorelay` facade uses pino. */
export const silentLogger: Logger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
  isLevelEnabled: () => false,
}
