import { type Attributes, SpanKind, SpanStatusCode } from '@opentelemetry/api'
import { type ExportResult, ExportResultCode, hrTimeToMilliseconds } from '@opentelemetry/core'
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base'
import type { Logger } from 'pino'

/** A finished span, as one log line carries it: what the launcher needs to draw its trace. */
export interface SpanRecord {
  traceId: string
  spanId: string
  /** Absent for the span that started the trace. */
  parentSpanId?: string
  /** `POST /users`, `send users.create`, `process users.create`. */
  name: string
  /** `SERVER`, `PRODUCER`, `CONSUMER`… */
  kind: string
  /** When it started, in epoch milliseconds. */
  start: number
  durationMs: number
  status: 'UNSET' | 'OK' | 'ERROR'
  statusMessage?: string
  attributes: Attributes
}

/** The record of a finished span. */
export function toSpanRecord(span: ReadableSpan): SpanRecord {
  const { traceId, spanId } = span.spanContext()
  const record: SpanRecord = {
    traceId,
    spanId,
    name: span.name,
    kind: SpanKind[span.kind],
    start: hrTimeToMilliseconds(span.startTime),
    durationMs: hrTimeToMilliseconds(span.duration),
    status: SpanStatusCode[span.status.code] as SpanRecord['status'],
    attributes: span.attributes,
  }
  const parent = span.parentSpanContext?.spanId
  if (parent !== undefined) record.parentSpanId = parent
  if (span.status.message !== undefined) record.statusMessage = span.status.message
  return record
}

/** The span a log record carries (under `span`), or `undefined` for any other record. */
export function spanOf(record: Record<string, unknown> | undefined): SpanRecord | undefined {
  const span = record?.span as Partial<SpanRecord> | undefined
  if (span === null || typeof span !== 'object') return undefined
  const { traceId, spanId, name } = span
  if (typeof traceId !== 'string' || typeof spanId !== 'string' || typeof name !== 'string') {
    return undefined
  }
  return span as SpanRecord
}

/**
 * A span exporter that writes each span as one log line, `{ span: SpanRecord }`: the
 * console exporter of the example, compact enough to go through the launcher, which draws a
 * trace's spans from every service as one tree.
 */
export class SpanLineExporter implements SpanExporter {
  readonly #log: Logger

  constructor(log: Logger) {
    this.#log = log
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    for (const span of spans) {
      const record = toSpanRecord(span)
      this.#log.info({ span: record }, `span ${record.name} ${record.durationMs.toFixed(1)} ms`)
    }
    done({ code: ExportResultCode.SUCCESS })
  }

  async shutdown(): Promise<void> {}
}
