import { describeValue } from './envelope.js'
import { ErrorCodes, InvalidArgumentError } from './errors.js'

/**
 * The checks of option objects, shared by every package, so that the same option means the same
 * thing everywhere and is refused with the same sentence: `The <option> option must be
 * <expected>, got <value>.` Each check returns the value (or `fallback` when the option is
 * `undefined` and a fallback is given) and throws an `InvalidArgumentError` coded
 * `INVALID_OPTION` otherwise. `option` is the option's name as users write it, optionally with
 * its owner: `'bodyLimit of exoRelayRoutes'` reads `The bodyLimit option of exoRelayRoutes …`.
 */

/** The error every check throws: one sentence naming the option, what it takes, and what it got. */
export function invalidOption(
  option: string,
  expected: string,
  value: unknown,
): InvalidArgumentError {
  return new InvalidArgumentError(
    ErrorCodes.INVALID_OPTION,
    `The ${optionPhrase(option)} must be ${expected}, got ${describeValue(value)}.`,
  )
}

/** `bodyLimit` → `bodyLimit option`; `bodyLimit of exoRelayRoutes` → `bodyLimit option of exoRelayRoutes`. */
function optionPhrase(option: string): string {
  const space = option.indexOf(' ')
  return space === -1
    ? `${option} option`
    : `${option.slice(0, space)} option${option.slice(space)}`
}

/** A required option that is missing (`MISSING_OPTION`), naming where it can come from. */
export function missingOption(option: string, hint: string, value: unknown): InvalidArgumentError {
  return new InvalidArgumentError(
    ErrorCodes.MISSING_OPTION,
    `The ${optionPhrase(option)} is required${hint === '' ? '' : ` (${hint})`}, got ${describeValue(value)}.`,
  )
}

/** An integer of at least `min` (and at most `max`). */
export function checkInteger(
  value: unknown,
  option: string,
  min: number,
  fallback?: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined && fallback !== undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    let expected = `an integer from ${min} to ${max}`
    if (max === Number.MAX_SAFE_INTEGER) {
      expected = min === 1 ? 'a positive integer' : `an integer of at least ${min}`
    }
    throw invalidOption(option, expected, value)
  }
  return value
}

/** A positive number of milliseconds, or `Infinity` (no deadline). */
export function checkTimeout(value: unknown, option: string, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw invalidOption(option, 'a positive number of milliseconds (or Infinity)', value)
  }
  return value
}

/** A boolean. */
export function checkBoolean(value: unknown, option: string, fallback?: boolean): boolean {
  if (value === undefined && fallback !== undefined) return fallback
  if (typeof value !== 'boolean') throw invalidOption(option, 'a boolean', value)
  return value
}

/** The `stackTraces` option: `true`, `false` or `'await'` (the default). */
export function checkStackTraces(value: unknown): boolean | 'await' {
  if (value === undefined || value === 'await') return 'await'
  if (typeof value !== 'boolean')
    throw invalidOption('stackTraces', "true, false or 'await'", value)
  return value
}

/** A string with at least one non-space character. */
export function checkNonEmptyString(value: unknown, option: string, fallback?: string): string {
  if (value === undefined && fallback !== undefined) return fallback
  if (typeof value !== 'string' || value.trim() === '') {
    throw invalidOption(option, 'a non-empty string', value)
  }
  return value
}

/** A function. */
export function checkFunction<F extends (...args: never[]) => unknown>(
  value: unknown,
  option: string,
): F {
  if (typeof value !== 'function') throw invalidOption(option, 'a function', value)
  return value as F
}

/**
 * A TCP port: an integer from 0 to 65535, or such a number as a string (the environment gives
 * strings). `0` asks the system for any free port when listening; a port to connect to is
 * checked with `connect: true`, which refuses `0`. One rule for every port option, so that
 * `EXOCOM_PORT=4001`, `exocomPort: 4001` and `--port 4001` are read alike.
 */
export function checkPort(
  value: unknown,
  option = 'port',
  { connect = false }: { connect?: boolean } = {},
): number {
  const port = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
  const min = connect ? 1 : 0
  if (typeof port !== 'number' || !Number.isInteger(port) || port < min || port > 65535) {
    throw invalidOption(option, `an integer from ${min} to 65535`, value)
  }
  return port
}
