import { DEFAULT_TIMEOUT, ErrorCodes, TransportError } from '@exorelay/core'
import { formatDuration, formatMessageLine } from '@exorelay/core/internal'
import { BUS_OPTIONS_USAGE, busAddress, busOrigin, runCommand } from './cli-args.js'
import { busGet } from './cli-bus-get.js'
import { paint, printable, stdoutHasColours } from './cli-text.js'
import { globMatcher } from './glob-pattern.js'
import { serverSentEvents } from './server-sent-events.js'

const USAGE = `Usage: exorelay tail [pattern...] [options]

Follows the bus's event stream (GET /events): one line per delivery,
  12:03:04.567  web  --[ users.create ]->  users  1.2 ms
with the outcome when it was not delivered, and one line per service that registers,
withdraws or is dropped. Ctrl-C stops it.

Arguments:
  [pattern...]       globs on the message's name or a service's name (users.*, *created);
                     an event matching any of them is shown (default: all)

Options:
  --json             print the bus's event objects, one JSON object per line
${BUS_OPTIONS_USAGE}`

/**
 * The bus sends a keep-alive every 15 s: three missed ones and the stream counts as broken
 * (a bus that vanished without closing the connection).
 */
const SILENCE_TIMEOUT = 45_000

/**
 * `exorelay tail [pattern…]`: follows `GET /events` until Ctrl-C (exit 0) or the bus ends the
 * stream (exit 1); 2 for wrong usage.
 */
export function tailCommand(args: string[]): Promise<number> {
  return runCommand(
    'tail',
    USAGE,
    args,
    { json: { type: 'boolean' } },
    async ({ values, positionals }) => {
      const bus = busAddress(values)
      const matchers = positionals.map(globMatcher)
      const shown = (event: BusEvent) =>
        matchers.length === 0 ||
        namesOf(event).some((name) => matchers.some((match) => match(name)))
      const colour = !values.json && stdoutHasColours()

      const body = await busGet(bus, '/events', {
        accept: 'text/event-stream',
        timeout: DEFAULT_TIMEOUT,
        bodyTimeout: SILENCE_TIMEOUT,
      })
      // Ctrl-C is how a tail ends: the stream is closed, and the loop below ends without error.
      let stopped = false
      const stop = () => {
        stopped = true
        body.destroy()
      }
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
      const origin = busOrigin(bus)
      try {
        for await (const { data } of serverSentEvents(body)) {
          let event: BusEvent
          try {
            event = JSON.parse(data) as BusEvent
          } catch {
            continue // not an event of this bus: skipped, as a browser's EventSource would
          }
          if (typeof event !== 'object' || event === null) continue
          if (event.type === 'hello') {
            process.stderr.write(
              `exorelay tail: following ExoCom ${printable(String(event.version ?? ''))} at ${origin}; Ctrl-C stops.\n`,
            )
            // Not filtered: with --json it is the line that says the stream is there.
          } else if (!shown(event)) continue
          const line = values.json ? JSON.stringify(event) : formatEvent(event, colour)
          if (line !== undefined) process.stdout.write(`${line}\n`)
        }
      } catch (cause) {
        if (stopped) return 0
        throw new TransportError(
          ErrorCodes.BUS_UNREACHABLE,
          `The event stream of ExoCom at ${origin} broke: ${(cause as Error).message}. Run exorelay tail again once the bus answers.`,
          { cause },
        )
      } finally {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
      }
      if (stopped) return 0
      throw new TransportError(
        ErrorCodes.BUS_UNREACHABLE,
        `ExoCom at ${origin} ended the event stream: it stopped, or dropped this reader for falling behind. Run exorelay tail again once the bus runs.`,
      )
    },
  )
}

/**
 * An event of `GET /events` as it may come over the network (see the bus's `BusEvent`): every
 * field is looked at before use, so an unknown or malformed event prints what it has.
 */
interface BusEvent {
  type?: unknown
  time?: unknown
  version?: unknown
  name?: unknown
  sentName?: unknown
  internalName?: unknown
  sender?: unknown
  receiver?: unknown
  receivers?: unknown
  outcome?: unknown
  status?: unknown
  durationMs?: unknown
  error?: { code?: unknown; message?: unknown } | null
  service?: unknown
  change?: unknown
  host?: unknown
  port?: unknown
}

/** The message and service names a pattern is matched against. */
function namesOf(event: BusEvent): string[] {
  const names = [
    event.name,
    event.sentName,
    event.internalName,
    event.sender,
    event.receiver,
    event.service,
    ...(Array.isArray(event.receivers) ? event.receivers : []),
  ]
  return names.filter((name): name is string => typeof name === 'string')
}

/**
 * The line of one event: a delivery in the bus's own `sender  --[ name ]->  receiver` shape
 * with its time and duration, a service's change; none for the others (`message`, `hello`),
 * which the deliveries and the start line already tell.
 */
export function formatEvent(event: BusEvent, colour: boolean): string | undefined {
  const time = paint(colour, 'dim', clock(event.time))
  if (event.type === 'delivery') {
    const name = text(event.name)
    const internalName = typeof event.internalName === 'string' ? event.internalName : name
    const receiver = typeof event.receiver === 'string' ? event.receiver : '(no receiver)'
    const route = formatMessageLine(
      printable(text(event.sender)),
      printable(name),
      printable(internalName),
      printable(receiver),
    )
    const duration =
      typeof event.durationMs === 'number' ? `  ${formatMilliseconds(event.durationMs)}` : ''
    const outcome = event.outcome === 'delivered' ? '' : `  ${outcomeText(event)}`
    // An error reply is delivered like any reply; it is marked so that it stands out.
    const errorReply = name === '__error' ? '  (error reply)' : ''
    const failed = event.outcome !== 'delivered' || errorReply !== ''
    const style = event.outcome === 'no-receiver' ? 'yellow' : failed ? 'red' : 'reset'
    return `${time}  ${paint(colour, style, `${route}${duration}${outcome}${errorReply}`)}`
  }
  if (event.type === 'service') {
    const address =
      typeof event.host === 'string' && typeof event.port === 'number'
        ? ` at ${printable(event.host)}:${event.port}`
        : ''
    const change = text(event.change)
    const style = change === 'registered' ? 'green' : change === 'dropped' ? 'yellow' : 'reset'
    return `${time}  ${paint(colour, style, `${printable(text(event.service))} ${printable(change)}${address}`)}`
  }
  return undefined
}

/**
 * `refused 503: <the receiver's text>`, `unreachable: <reason>`; `no-receiver` alone: the
 * bus's sentence for it only says so at length.
 */
function outcomeText(event: BusEvent): string {
  const status = typeof event.status === 'number' ? ` ${event.status}` : ''
  const message = event.error?.message
  const reason =
    typeof message === 'string' && event.outcome !== 'no-receiver' ? `: ${printable(message)}` : ''
  return `${printable(text(event.outcome))}${status}${reason}`
}

/** `12.3 ms` below a second, where a delivery's time is read; `1.5 s` above. */
function formatMilliseconds(ms: number): string {
  return ms < 1_000 ? `${ms.toFixed(1)} ms` : formatDuration(ms)
}

/** `HH:MM:SS.mmm` of an ISO time, in local time; the text as it came when it is no time. */
function clock(time: unknown): string {
  const date = new Date(typeof time === 'string' ? time : Number.NaN)
  if (Number.isNaN(date.getTime())) return printable(text(time)).padEnd(12)
  const two = (n: number) => String(n).padStart(2, '0')
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, '0')}`
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined ? '?' : String(value)
}
