import { ErrorCodes, ProtocolError } from '@exorelay/core'

// The reading side of Server-Sent Events (the WHATWG format) as far as `exorelay tail` needs
// it: the bus's `GET /events` is one `event:`, `id:` and one `data:` line per event.

/** One event of a `text/event-stream`. */
export interface ServerSentEvent {
  /** The `event:` field; `message` when the event names none, as in a browser. */
  event: string
  /** The `data:` lines, joined by `\n`. */
  data: string
  /** The `id:` field, when it has one. */
  id?: string
}

/** Characters one line may hold before the stream counts as broken: a peer is not trusted. */
export const MAX_LINE_LENGTH = 1024 * 1024

/**
 * The events of a stream of text chunks, each once its blank line came. Comment lines (`:`,
 * the keep-alives) and fields it does not know are skipped. Throws a `ProtocolError` for a
 * line longer than `MAX_LINE_LENGTH`, so that a stream without newlines cannot fill memory.
 */
export async function* serverSentEvents(
  chunks: AsyncIterable<string | Buffer>,
): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder()
  let pending = ''
  let event: string | undefined
  let data: string[] = []
  let id: string | undefined
  for await (const chunk of chunks) {
    pending += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true })
    let end = lineEnd(pending)
    while (end !== -1) {
      const line = pending.slice(0, end)
      pending = pending.slice(end + (pending.startsWith('\r\n', end) ? 2 : 1))
      if (line === '') {
        if (data.length > 0) {
          yield {
            event: event ?? 'message',
            data: data.join('\n'),
            ...(id !== undefined && { id }),
          }
        }
        event = undefined
        data = []
      } else if (!line.startsWith(':')) {
        const colon = line.indexOf(':')
        const field = colon === -1 ? line : line.slice(0, colon)
        let value = colon === -1 ? '' : line.slice(colon + 1)
        if (value.startsWith(' ')) value = value.slice(1)
        if (field === 'event') event = value
        else if (field === 'data') data.push(value)
        else if (field === 'id') id = value
      }
      end = lineEnd(pending)
    }
    if (pending.length > MAX_LINE_LENGTH) {
      throw new ProtocolError(
        ErrorCodes.INVALID_MESSAGE,
        `The event stream sent a line longer than ${MAX_LINE_LENGTH} characters; it is no event stream of ExoCom. Check that --port (or EXOCOM_PORT) is the bus's.`,
      )
    }
  }
}

/** Where the first line of `text` ends; -1 also for a final `\r` whose `\n` may still come. */
function lineEnd(text: string): number {
  const end = text.search(/\r\n|\r|\n/)
  return end === text.length - 1 && text[end] === '\r' ? -1 : end
}
