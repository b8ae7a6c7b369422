import { createRequire } from 'node:module'
import type { Logger } from '@exorelay/core'
import { silentLogger } from '@exorelay/core'
import { defaultLogFormat } from '@exorelay/core/internal'
import type { LoggerOptions, pino as Pino } from 'pino'
import type { PrettyOptions } from 'pino-pretty'

/** A pino logger (or any pino-compatible one), pino options to build one, or `false` for silence. */
export type LoggerOption = Logger | LoggerOptions | false

// pino is loaded only when the relay builds its own logger: with `logger: false` or a logger
// of the service's own, its 29 modules stay out of the process (0.4 MB of an idle relay's
// heap), and pino-pretty only on a terminal. Both are CommonJS, so a synchronous require
// keeps the relay's constructor synchronous.
const require = createRequire(import.meta.url)

/**
 * Every line a relay logs carries its service name; message lines add the message's name,
 * id and responseTo. The default is pino at `info` (or `LOG_LEVEL`) on stdout: pretty
 * (pino-pretty) on a terminal, JSON lines otherwise, the bus's rule (env `LOG_FORMAT`,
 * `pretty` or `json`, decides instead). Pino options with a `transport` of their own write
 * where it says.
 */
export function createLogger(option: LoggerOption | undefined, serviceName: string): Logger {
  return createBaseLogger(option).child({ service: serviceName })
}

/**
 * The logger {@link createLogger} binds the service name to: silence for `false`, the logger
 * itself when one is given, else pino as described there. `exoservice` builds it once and
 * hands it to the relay, so that its own lines (`online at port`) look like the relay's.
 */
export function createBaseLogger(option: LoggerOption | undefined): Logger {
  if (option === false) return silentLogger
  if (isLogger(option)) return option
  const options: LoggerOptions = { level: process.env.LOG_LEVEL ?? 'info', ...option }
  const pino = loadPino()
  return options.transport === undefined && defaultLogFormat() === 'pretty'
    ? pino(
        options,
        loadPretty()({
          sync: true,
          translateTime: 'SYS:HH:MM:ss.l',
          // The service leads each line, as the bus's lines lead with the message route.
          messageFormat: '{service}: {msg}',
          ignore: 'pid,hostname,service',
        }),
      )
    : pino(options)
}

function loadPino(): typeof Pino {
  return (require('pino') as { pino: typeof Pino }).pino
}

function loadPretty(): (options: PrettyOptions) => NodeJS.WritableStream {
  return require('pino-pretty') as (options: PrettyOptions) => NodeJS.WritableStream
}

function isLogger(value: unknown): value is Logger {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Logger).child === 'function' &&
    typeof (value as Logger).info === 'function'
  )
}
