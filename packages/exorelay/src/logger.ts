import type { Logger } from '@exorelay/core'
import { silentLogger } from '@exorelay/core'
import { type LoggerOptions, pino } from 'pino'

/** A pino logger (or any pino-compatible one), pino options to build one, or `false` for silence. */
export type LoggerOption = Logger | LoggerOptions | false

/**
 * Every line a relay logs carries its service name; message lines add the message's name,
 * id and responseTo. The default is pino at `info` (or `LOG_LEVEL`), JSON on stdout.
 */
export function createLogger(option: LoggerOption | undefined, serviceName: string): Logger {
  if (option === false) return silentLogger
  const base: Logger = isLogger(option)
    ? option
    : pino({ level: process.env.LOG_LEVEL ?? 'info', ...option })
  return base.child({ service: serviceName })
}

function isLogger(value: unknown): value is Logger {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Logger).child === 'function' &&
    typeof (value as Logger).info === 'function'
  )
}
