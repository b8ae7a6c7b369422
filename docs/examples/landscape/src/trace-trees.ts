import type { SpanRecord } from './span-lines.js'

/** A span and the service whose output carried it. */
export interface ServiceSpan {
  service: string
  span: SpanRecord
}

export interface TraceTreesOptions {
  /** Receives a trace's lines when it is drawn. */
  print: (lines: string[]) => void
  /**
   * Milliseconds a trace must stay quiet after its root span ended before it is drawn.
   * Default 250: what the last replies' spans take to come through.
   */
  settle?: number
  /**
   * Milliseconds a trace without its root span waits for one: its root's service does not
   * trace, or its root was drawn already and these spans came late. Default 10 000, longer
   * than the API waits for a reply.
   */
  orphanWait?: number
}

/**
 * Gathers the spans that every service of the landscape prints, by trace, and draws each
 * trace as one tree once it is over. Spans come through separate pipes, in no set order, and
 * a reply's send may end just after the request that caused it: a trace is drawn when no span
 * of it came for `settle` ms after its root ended. The root is the span that began the trace
 * here: one without a parent, or a SERVER span that continues a client's trace.
 */
export class TraceTrees {
  readonly #traces = new Map<
    string,
    { spans: ServiceSpan[]; rooted: boolean; timer: NodeJS.Timeout | undefined }
  >()
  readonly #print: (lines: string[]) => void
  readonly #settle: number
  readonly #orphanWait: number

  constructor(options: TraceTreesOptions) {
    this.#print = options.print
    this.#settle = options.settle ?? 250
    this.#orphanWait = options.orphanWait ?? 10_000
  }

  add(service: string, span: SpanRecord): void {
    const { traceId } = span
    let trace = this.#traces.get(traceId)
    if (trace === undefined) {
      trace = { spans: [], rooted: false, timer: undefined }
      this.#traces.set(traceId, trace)
    }
    trace.spans.push({ service, span })
    trace.rooted ||= span.parentSpanId === undefined || span.kind === 'SERVER'
    clearTimeout(trace.timer)
    trace.timer = setTimeout(
      () => this.#draw(traceId),
      trace.rooted ? this.#settle : this.#orphanWait,
    )
    // A trace still waiting must not keep the launcher alive: flush() draws it at the stop.
    trace.timer.unref()
  }

  /** Draws every trace not drawn yet, as it is: the landscape stops. */
  flush(): void {
    for (const traceId of [...this.#traces.keys()]) this.#draw(traceId)
  }

  #draw(traceId: string): void {
    const trace = this.#traces.get(traceId)
    if (trace === undefined) return
    clearTimeout(trace.timer)
    this.#traces.delete(traceId)
    this.#print(formatTrace(trace.spans))
  }
}

/**
 * One line per span, each child under its parent and indented by its depth, siblings in the
 * order they started: the trace id, the service, the span's name, its duration and status,
 * and what it ended with (a request's reply, an HTTP status).
 *
 * ```
 * 4bf92f3577b34da6a3ce929d0e0e4736  web        POST /users                      68.1 ms  ok (201)
 * 4bf92f3577b34da6a3ce929d0e0e4736  web          send users.create              65.9 ms  ok (users.created)
 * 4bf92f3577b34da6a3ce929d0e0e4736  users          process users.create         61.0 ms  ok
 * ```
 */
export function formatTrace(spans: ServiceSpan[]): string[] {
  const ids = new Set(spans.map(({ span }) => span.spanId))
  const children = new Map<string | undefined, ServiceSpan[]>()
  for (const entry of [...spans].sort((a, b) => a.span.start - b.span.start)) {
    // A span whose parent is not here (in a service that does not trace) heads its own tree.
    const parent = entry.span.parentSpanId
    const key = parent !== undefined && ids.has(parent) ? parent : undefined
    children.set(key, [...(children.get(key) ?? []), entry])
  }
  const rows: { entry: ServiceSpan; depth: number }[] = []
  const visit = (parent: string | undefined, depth: number): void => {
    for (const entry of children.get(parent) ?? []) {
      rows.push({ entry, depth })
      visit(entry.span.spanId, depth + 1)
    }
  }
  visit(undefined, 0)

  const serviceWidth = Math.max(...rows.map(({ entry }) => entry.service.length))
  const nameWidth = Math.max(...rows.map(({ entry, depth }) => 2 * depth + entry.span.name.length))
  const durationWidth = Math.max(...rows.map(({ entry }) => duration(entry.span).length))
  return rows.map(({ entry: { service, span }, depth }) =>
    [
      span.traceId,
      service.padEnd(serviceWidth),
      `${' '.repeat(2 * depth)}${span.name}`.padEnd(nameWidth),
      duration(span).padStart(durationWidth),
      outcome(span),
    ].join('  '),
  )
}

function duration(span: SpanRecord): string {
  return `${span.durationMs.toFixed(1)} ms`
}

/** `ok`, `ok (users.created)`, `ERROR (EXORELAY_ERR_REPLY_TIMEOUT)`, `ERROR (504)`. */
function outcome(span: SpanRecord): string {
  const { attributes } = span
  if (span.status === 'ERROR') {
    return `ERROR (${attributes['error.type'] ?? span.statusMessage ?? 'no reason given'})`
  }
  const ended = attributes['exorelay.reply.outcome'] ?? attributes['http.response.status_code']
  return ended === undefined ? 'ok' : `ok (${ended})`
}
