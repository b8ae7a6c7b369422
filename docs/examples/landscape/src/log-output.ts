import { styleText } from 'node:util'
import pretty from 'pino-pretty'

/** One line of a child's output: a pino record when the line is JSON, else the raw text. */
export interface OutputLine {
  service: string
  text: string
  record: LogRecord | undefined
  stream: 'stdout' | 'stderr'
}

/** The fields of a pino line this launcher reads. */
export interface LogRecord {
  level?: number
  msg?: string
  port?: number
  [field: string]: unknown
}

export interface LineWriterOptions {
  /** Pretty-print pino lines (for a terminal); otherwise pass them through as JSON. */
  pretty: boolean
  /** Colour the output (only when pretty). */
  colors: boolean
  /** The longest service name, so that the prefixes line up. */
  nameWidth: number
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
 * Returns a function that writes a child's output line prefixed with the child's name, so
 * that four processes can share one console: pretty (pino-pretty) on a terminal, the lines
 * as they came (JSON) otherwise, where a machine may read them.
 */
export function createLineWriter(options: LineWriterOptions): (line: OutputLine) => void {
  const format = pretty.prettyFactory({
    colorize: options.colors,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: IGNORED_FIELDS,
    singleLine: false,
  })
  const colorOf = new Map<string, (typeof COLORS)[number]>()
  const prefix = (service: string): string => {
    const label = `${service.padEnd(options.nameWidth)} |`
    if (!options.colors) return label
    let color = colorOf.get(service)
    if (color === undefined) {
      color = COLORS[colorOf.size % COLORS.length]!
      colorOf.set(service, color)
    }
    return styleText(color, label)
  }
  return ({ service, text, record }) => {
    const body = options.pretty && record !== undefined ? format(record).trimEnd() : text
    const lead = prefix(service)
    options.write(
      body
        .split('\n')
        .map((line) => `${lead} ${line}\n`)
        .join(''),
    )
  }
}

/** The pino record in a line, or `undefined` for any other text. */
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
