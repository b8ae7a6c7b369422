/**
 * The codes of the errors ExoService raises. Each error's message names the file or the
 * service that failed and ends with the likely fix; `exoservice` prints that message and
 * exits 1, without a stack.
 */
export const ExoServiceErrorCodes = {
  /** `service.yml` is missing, is not YAML, or does not say what a service must say. */
  SERVICE_FILE: 'EXOSERVICE_ERR_SERVICE_FILE',
  /** The handler module could not be loaded, or its default export is not a handler map. */
  HANDLERS: 'EXOSERVICE_ERR_HANDLERS',
  /** The service could not go online: `beforeAll` failed or took too long, or `listen()` failed. */
  STARTUP: 'EXOSERVICE_ERR_STARTUP',
  /** The service's `afterAll` failed while it shut down (the relay itself closed). */
  SHUTDOWN: 'EXOSERVICE_ERR_SHUTDOWN',
  /** The application file of a landscape is missing, is not YAML, or lists no usable services. */
  APPLICATION_FILE: 'EXOSERVICE_ERR_APPLICATION_FILE',
  /** The contract module `messages.contract` names is missing, throws, or exports no contract. */
  CONTRACT: 'EXOSERVICE_ERR_CONTRACT',
} as const

/** One of the codes of {@link ExoServiceErrorCodes}. */
export type ExoServiceErrorCode = (typeof ExoServiceErrorCodes)[keyof typeof ExoServiceErrorCodes]

/** Options of an {@link ExoServiceError}. */
export interface ExoServiceErrorOptions {
  /** The error that caused this one, kept as `error.cause`. */
  cause?: unknown
  /** The file the error is about, when there is one. */
  file?: string | undefined
  /** The line in `file` (1-based), when the YAML parser gives one. */
  line?: number | undefined
}

/** An error of ExoService: a coded, one-sentence account of what failed and how to fix it. */
export class ExoServiceError extends Error {
  /** Stable code, e.g. `'EXOSERVICE_ERR_SERVICE_FILE'`. */
  readonly code: ExoServiceErrorCode
  /** The file the error is about, when there is one. */
  readonly file: string | undefined
  /** The line in `file` (1-based), when the YAML parser gives one. */
  readonly line: number | undefined

  constructor(code: ExoServiceErrorCode, message: string, options: ExoServiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'ExoServiceError'
    this.code = code
    this.file = options.file
    this.line = options.line
  }

  /** The form an error takes in logs: data, never a stack. */
  toJSON(): {
    name: string
    code: ExoServiceErrorCode
    message: string
    file?: string
    line?: number
  } {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      ...(this.file === undefined ? {} : { file: this.file }),
      ...(this.line === undefined ? {} : { line: this.line }),
    }
  }
}

// A brand, as @exorelay/core's errors have: a handler module loaded through tsx, or a second
// installed copy of exoservice, makes a second class, and a plain `instanceof` would fail across
// them. The brand sits under a `Symbol.for` key, the same in every copy in the process.
const kExoServiceError = Symbol.for('exoservice.error.ExoServiceError')
Object.defineProperty(ExoServiceError.prototype, kExoServiceError, { value: true })
Object.defineProperty(ExoServiceError, Symbol.hasInstance, {
  value: (instance: unknown): boolean =>
    typeof instance === 'object' &&
    instance !== null &&
    (instance as Record<symbol, unknown>)[kExoServiceError] === true,
})

/** True when `error` is an {@link ExoServiceError}, of `code` when one is given. */
export function isExoServiceError(
  error: unknown,
  code?: ExoServiceErrorCode,
): error is ExoServiceError {
  return error instanceof ExoServiceError && (code === undefined || error.code === code)
}

/**
 * What a thrown value says, on one line and without a closing period: for quoting it inside a
 * sentence. (esbuild's compile errors, through tsx, take two lines.)
 */
export function thrownMessage(thrown: unknown): string {
  const text = thrown instanceof Error ? thrown.message : String(thrown)
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join(' ')
    .replace(/\.+$/, '')
}
