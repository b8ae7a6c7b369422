import { styleText } from 'node:util'
import pretty from 'pino-pretty'

/** One line of a process's output: a pino record when the line is JSON, else the raw text. */
export interface OutputLine {
  /** The name of the process that wrote it: a service's name, or `exocom` for the bus. */
  service: string
  /** The line as written, without its line break. */
  text: string
  /** The pino record in the line, when the line is one. */
  record: LogRecord | undefined
  /** Where the line was written. */
  stream: 'stdout' | 'stderr'
}

/** The fields of a pino line the runner reads; any others are kept as they came. */
export interface LogRecord {
  /** pino's level: 30 info, 40 warn, 50 error. */
  level?: number
  /** The message. */
  msg?: string
  /** The port, on the line that says a service is online. */
  port?: number
  [field: string]: unknown
}

/** Options of {@link createLineWriter}. */
export interface LineWriterOptions {
  /**
   * Pretty-print pino lines (for a terminal); otherwise pass them through as they came (JSON),
   * where a machine may read them.
   * @default `false`
   */
  pretty?: boolean
  /**
   * Colour the prefixes and the pretty lines (only when `pretty`).
   * @default `false`
   */
  colors?: boolean
  /**
   * The width the service names are padded to, so that the prefixes line up: the longest name.
   * @default `0`
   */
  nameWidth?: number
  /** Writes a piece of text (whole lines, each ending in a line break). */
  write: (text: string) => void
}

// The message lines already say what these fields say; on a terminal they are clutter.
const IGNORED_FIELDS = [
  'pid',
  'hostname',
  'service',
  'sender',
  'receiver',
  'messageName',
  'messageId',
  'responseTo',
  'internalName',
  'services',
  'url',
  'receives',
  'host',
  'reqId',
  'method',
  'statusCode',
  'signal',
].join(',')

const COLORS = ['cyan', 'magenta', 'yellow', 'green', 'blue'] as const

/**
 * Returns a function that writes a process's output line prefixed with the process's name, so
 * that a landscape's processes can share one console: pretty (pino-pretty) on a terminal, the
 * lines as they came (JSON) otherwise. Each service keeps its colour.
 *
 * @example
 * ```ts
 * import { createLineWriter } from 'exoservice'
 *
 * const writeLine = createLineWriter({ nameWidth: 5, write: (text) => process.stdout.write(text) })
 * writeLine({ service: 'users', text: 'hello', record: undefined, stream: 'stdout' })
 * // users | hello
 * ```
 */
export function createLineWriter(options: LineWriterOptions): (line: OutputLine) => void {
  const { pretty: prettyPrint = false, nameWidth = 0, write } = options
  const colors = prettyPrint && options.colors === true
  const format = pretty.prettyFactory({
    colorize: colors,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: IGNORED_FIELDS,
    singleLine: false,
  })
  const colorOf = new Map<string, (typeof COLORS)[number]>()
  const prefix = (service: string): string => {
    const label = `${service.padEnd(nameWidth)} |`
    if (!colors) return label
    let color = colorOf.get(service)
    if (color === undefined) {
      color = COLORS[colorOf.size % COLORS.length]!
      colorOf.set(service, color)
    }
    // The caller decided on colours (it knows where the text goes): no check of stdout here.
    return styleText(color, label, { validateStream: false })
  }
  return ({ service, text, record }) => {
    const body = prettyPrint && record !== undefined ? format(record).trimEnd() : text
    const lead = prefix(service)
    // One write per line of output, so that another process's line never lands inside it.
    write(
      body
        .split('\n')
        .map((line) => `${lead} ${line}\n`)
        .join(''),
    )
  }
}

/** The pino record in a line of output, or `undefined` for any other text. */
export function parseRecord(text: string): LogRecord | undefined {
  if (!text.startsWith('{')) return undefined
  try {
    const value: unknown = JSON.parse(text)
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as LogRecord)
      : undefined
  } catch {
    return undefined
  }
}
