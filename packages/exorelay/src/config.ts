import { checkPort, DEFAULT_TIMEOUT, ErrorCodes, InvalidArgumentError } from '@exorelay/core'
import { checkNonEmptyString } from '@exorelay/core/internal'

/** The port a relay listens on when neither the `port` option nor `EXORELAY_PORT` says: the original's. */
export const DEFAULT_PORT = 4000
/** Where the listener binds unless told otherwise: loopback, so a relay is not exposed by accident. */
export const DEFAULT_HOST = '127.0.0.1'
/** Where the relay looks for ExoCom when neither `exocomHost` nor `EXOCOM_HOST` says. */
export const DEFAULT_EXOCOM_HOST = 'localhost'

/** The settings that may come from options or the environment, as the orchestrator set them. */
export interface ConfigOptions {
  serviceName?: string | undefined
  exocomHost?: string | undefined
  exocomPort?: number | string | undefined
  port?: number | string | undefined
  host?: string | undefined
  advertisedHost?: string | undefined
  timeout?: number | undefined
  token?: string | undefined
  /**
   * The environment to read.
   * @default `process.env`
   */
  env?: Record<string, string | undefined> | undefined
}

export interface ResolvedConfig {
  serviceName: string
  exocomHost: string
  exocomPort: number | undefined
  port: number
  host: string
  advertisedHost: string
  timeout: number
  token: string | undefined
}

/**
 * Options win over the environment, the environment over defaults. A missing required value
 * names both the option and the variable, because either one fixes it.
 */
export function resolveConfig(options: ConfigOptions, needsExocom: boolean): ResolvedConfig {
  const env = options.env ?? process.env
  const serviceName = options.serviceName ?? nonEmpty(env.SERVICE_NAME)
  if (serviceName === undefined || serviceName === '') {
    throw missing('serviceName', 'SERVICE_NAME')
  }
  checkNonEmptyString(serviceName, 'serviceName')
  const rawExocomPort = options.exocomPort ?? nonEmpty(env.EXOCOM_PORT)
  if (rawExocomPort === undefined && needsExocom) {
    throw missing('exocomPort', 'EXOCOM_PORT')
  }
  const host = options.host ?? nonEmpty(env.EXORELAY_HOST) ?? DEFAULT_HOST
  return {
    serviceName,
    exocomHost: options.exocomHost ?? nonEmpty(env.EXOCOM_HOST) ?? DEFAULT_EXOCOM_HOST,
    exocomPort:
      rawExocomPort === undefined
        ? undefined
        : checkPort(rawExocomPort, 'exocomPort (or EXOCOM_PORT)', { connect: true }),
    port: checkPort(
      options.port ?? nonEmpty(env.EXORELAY_PORT) ?? DEFAULT_PORT,
      'port (or EXORELAY_PORT)',
    ),
    host,
    advertisedHost:
      options.advertisedHost ?? nonEmpty(env.EXORELAY_ADVERTISED_HOST) ?? advertisable(host),
    timeout: options.timeout ?? DEFAULT_TIMEOUT,
    token: options.token ?? nonEmpty(env.EXOCOM_TOKEN),
  }
}

/** A wildcard bind address is no address the bus can deliver to. */
function advertisable(host: string): string {
  return host === '0.0.0.0' || host === '::' ? 'localhost' : host
}

/** A variable's value trimmed; an empty or blank one counts as unset. */
export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim()
}

/** A required setting that neither the option nor its variable gives: either one fixes it. */
function missing(option: string, variable: string): InvalidArgumentError {
  return new InvalidArgumentError(
    ErrorCodes.MISSING_OPTION,
    `ExoRelay needs the ${option} option or the ${variable} environment variable.`,
  )
}
