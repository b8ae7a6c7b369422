import { describeValue } from './envelope.js'
import { ErrorCodes, InvalidArgumentError } from './errors.js'

/** How a default logger writes: `pretty` (pino-pretty, for people) or `json` lines (pino's). */
export type LogFormat = 'pretty' | 'json'

/**
 * The one rule for the default loggers of the bus and of every relay: pretty on a terminal,
 * JSON lines otherwise (a pipe, a file, a container's log collector), unless `LOG_FORMAT` says
 * `pretty` or `json`. A logger passed in code is never touched. Throws an
 * `InvalidArgumentError` (`INVALID_OPTION`) for another value of `LOG_FORMAT`.
 *
 * @example
 * ```ts
 * defaultLogFormat({ LOG_FORMAT: 'json' }, { isTTY: true }) // 'json'
 * ```
 */
export function defaultLogFormat(
  env: Readonly<Record<string, string | undefined>> = process.env,
  stdout: { readonly isTTY?: boolean | undefined } = process.stdout,
): LogFormat {
  const chosen = env.LOG_FORMAT
  // Empty counts as unset, as the other variables do.
  if (chosen === undefined || chosen === '') return stdout.isTTY === true ? 'pretty' : 'json'
  if (chosen === 'pretty' || chosen === 'json') return chosen
  throw new InvalidArgumentError(
    ErrorCodes.INVALID_OPTION,
    `The LOG_FORMAT environment variable must be 'pretty' or 'json', got ${describeValue(chosen)}. Unset, logs are pretty on a terminal and JSON lines otherwise.`,
  )
}
