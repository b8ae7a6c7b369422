import { createRequire } from 'node:module'
import type { Logger } from '@exorelay/core'
import { silentLogger } from '@exorelay/core'
import type { LoggerOptions, pino as Pino } from 'pino'

/** A pino logger (or any pino-compatible one), pino options to build one, or `false` for silence. */
export type LoggerOption = Logger | LoggerOptions | false

// pino is loaded only when the relay builds its own logger: with `logger: false` or a logger
// of the service's own, its 29 modules stay out of the process (0.4 MB of an idle relay's
// heap). It is CommonJS, so a synchronous require keeps the relay's constructor synchronous.
const require = createRequire(import.meta.url)

/**
 * Every line a relay logs carries its service name; message lines add the message's name,
 * id and responseTo. The default is pino at `info` (or `LOG_LEVEL`), JSON on stdout.
 */
export function createLogger(option: LoggerOption | undefined, serviceName: string): Logger {
  if (option === false) return silentLogger
  const base: Logger = isLogger(option)
    ? option
    : loadPino()({ level: process.env.LOG_LEVEL ?? 'info', ...option })
  return base.child({ service: serviceName })
}

function loadPino(): typeof Pino {
  return (require('pino') as { pino: typeof Pino }).pino
}

function isLogger(value: unknown): value is Logger {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Logger).child === 'function' &&
    typeof (value as Logger).info === 'function'
  )
}
