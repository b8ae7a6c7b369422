import { withDeadline } from '@exorelay/testing'
import { type ExportResult, ExportResultCode } from '@opentelemetry/core'
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base'

/**
 * An in-memory span exporter that a test can wait on: spans end in three services and
 * through the bus, in no set order, so a test waits for the spans it needs, not for time.
 */
export class SpanRecorder implements SpanExporter {
  readonly spans: ReadableSpan[] = []
  readonly #waiters = new Set<() => void>()

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.spans.push(...spans)
    for (const check of this.#waiters) check()
    done({ code: ExportResultCode.SUCCESS })
  }

  async shutdown(): Promise<void> {}

  /** Forgets the spans so far: each test sees its own. */
  reset(): void {
    this.spans.length = 0
  }

  /**
   * Resolves with the first ended span of each name, once all have ended; rejects naming the
   * missing ones after `timeout` ms.
   */
  async ended(names: string[], timeout = 10_000): Promise<Map<string, ReadableSpan>> {
    const found = () => {
      const byName = new Map<string, ReadableSpan>()
      for (const span of this.spans) if (!byName.has(span.name)) byName.set(span.name, span)
      return byName
    }
    const missing = () => names.filter((name) => !found().has(name))
    let check = () => {}
    const all = new Promise<void>((resolve) => {
      check = () => {
        if (missing().length === 0) resolve()
      }
      check()
    })
    this.#waiters.add(check)
    try {
      await withDeadline(all, timeout, () => `these spans did not end: ${missing().join(', ')}`)
    } finally {
      this.#waiters.delete(check)
    }
    return found()
  }
}
