import type { TestContext } from 'node:test'
import { withDeadline } from '@exorelay/testing'
import type { BusEvent } from '../src/bus-events.js'

/** One event as it came over the wire: its `event:` and `id:` lines, and its data parsed. */
export interface StreamedEvent {
  readonly event: string
  readonly id: string | undefined
  readonly data: BusEvent
}

/** A client of `GET /events`, reading with `fetch` as the dev page does. */
export interface EventClient {
  readonly status: number
  readonly headers: Headers
  /** Every event so far, in order. */
  readonly events: readonly StreamedEvent[]
  /** Every comment line so far (`keep-alive`). */
  readonly comments: readonly string[]
  /** Everything the bus wrote, as text: the body of a refusal, or the stream so far. */
  text(): string
  /**
   * The first event, past or future, that `match` takes; rejects naming what came when none
   * does within `timeout` ms.
   */
  next(match: (event: BusEvent) => boolean, timeout?: number): Promise<BusEvent>
  /** Resolves once a comment line `: <text>` came, past or future, within `timeout` ms. */
  comment(text: string, timeout?: number): Promise<void>
  /** Resolves once the bus ended the stream; rejects when it does not within `timeout` ms. */
  ended(timeout?: number): Promise<void>
  /** Stops reading and closes the connection. */
  close(): void
}

/**
 * Opens `GET /events` of the bus at `url` with `headers` and reads it as it comes; closed after
 * the test. Resolves once the answer's headers are there.
 */
export async function followEvents(
  t: TestContext,
  url: string,
  headers: Record<string, string> = {},
): Promise<EventClient> {
  const abort = new AbortController()
  t.after(() => abort.abort())
  const response = await withDeadline(
    fetch(`${url}/events`, { headers, signal: abort.signal }),
    10_000,
    () => 'GET /events did not answer',
  )
  const events: StreamedEvent[] = []
  const comments: string[] = []
  const waiters = new Set<{ match: (event: BusEvent) => boolean; resolve: (e: BusEvent) => void }>()
  let text = ''
  let pending = ''
  let done = false
  const endWaiters = new Set<() => void>()
  const commentWaiters = new Set<{ text: string; resolve: () => void }>()

  const take = (block: string): void => {
    let event = 'message'
    let id: string | undefined
    const data: string[] = []
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        const comment = line.slice(1).trim()
        comments.push(comment)
        for (const waiter of commentWaiters) {
          if (waiter.text !== comment) continue
          commentWaiters.delete(waiter)
          waiter.resolve()
        }
      } else if (line.startsWith('event: ')) event = line.slice(7)
      else if (line.startsWith('id: ')) id = line.slice(4)
      else if (line.startsWith('data: ')) data.push(line.slice(6))
    }
    if (data.length === 0) return
    const parsed: StreamedEvent = { event, id, data: JSON.parse(data.join('\n')) as BusEvent }
    events.push(parsed)
    for (const waiter of waiters) {
      if (!waiter.match(parsed.data)) continue
      waiters.delete(waiter)
      waiter.resolve(parsed.data)
    }
  }

  const reading = (async () => {
    const decoder = new TextDecoder()
    try {
      for await (const chunk of response.body ?? []) {
        const decoded = decoder.decode(chunk as Uint8Array, { stream: true })
        text += decoded
        pending += decoded
        let end = pending.indexOf('\n\n')
        while (end !== -1) {
          take(pending.slice(0, end))
          pending = pending.slice(end + 2)
          end = pending.indexOf('\n\n')
        }
      }
    } catch {
      // Aborted by the test, or cut by the bus: either way the stream is over.
    }
    done = true
    for (const resolve of endWaiters) resolve()
  })()
  void reading

  return {
    status: response.status,
    headers: response.headers,
    events,
    comments,
    text: () => text,
    next(match, timeout = 10_000) {
      const seen = events.find((event) => match(event.data))
      if (seen !== undefined) return Promise.resolve(seen.data)
      const found = new Promise<BusEvent>((resolve) => waiters.add({ match, resolve }))
      return withDeadline(
        found,
        timeout,
        () =>
          `no matching event came (${events.length} came: ${events
            .slice(-5)
            .map((event) => JSON.stringify(event.data))
            .join(', ')})`,
      )
    },
    comment(text, timeout = 10_000) {
      if (comments.includes(text)) return Promise.resolve()
      const found = new Promise<void>((resolve) => commentWaiters.add({ text, resolve }))
      return withDeadline(found, timeout, () => `no comment '${text}' came`)
    },
    ended(timeout = 10_000) {
      if (done) return Promise.resolve()
      const over = new Promise<void>((resolve) => endWaiters.add(resolve))
      return withDeadline(over, timeout, () => 'the bus did not end the event stream')
    },
    close: () => abort.abort(),
  }
}
