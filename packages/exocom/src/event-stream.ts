import type { ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import { ErrorCodes, type Logger } from '@exorelay/core'
import { sendErrorAnswer } from '@exorelay/fastify-listener/internal'
import { type ServiceRegistration, statusOf } from '@exorelay/http-protocol'
import type { FastifyInstance } from 'fastify'
import type { BusEvent, DeliveryOutcome, MessageEvent, ServiceEvent } from './bus-events.js'
import { RawPayload } from './envelope-scan.js'
import type { RoutedMessage } from './exchange.js'
import type { Delivery, Receiver } from './routing-table.js'

/** What the stream needs to know of a message nobody receives: no delivery was made of it. */
export type AcceptedMessage = Pick<
  RoutedMessage,
  'publicName' | 'sentName' | 'sender' | 'id' | 'responseTo' | 'accepted'
>

/** The path of the stream. */
export const EVENTS_PATH = '/events'
/** How often a comment line keeps an idle stream's proxies and clients from timing out. */
export const KEEP_ALIVE_INTERVAL = 15_000

const KEEP_ALIVE = ': keep-alive\n\n'
const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version
const UTF8 = new TextEncoder()
const TOO_MANY_STATUS = statusOf(ErrorCodes.BUS_TOO_MANY_EVENT_CLIENTS)

export interface EventStreamOptions {
  readonly logger: Logger
  /** Bytes of events a client may leave unread before it is dropped. */
  readonly buffer: number
  /** Clients at once; one more is answered 503. */
  readonly maxClients: number
  /** Bytes of a payload's JSON in a message event's `preview`; `0`: none. */
  readonly preview: number
  /** Milliseconds between keep-alive comments. Default {@link KEEP_ALIVE_INTERVAL}. */
  readonly keepAlive?: number
}

interface Client {
  readonly response: ServerResponse
  /** `address:port`, for the warning when it is dropped. */
  readonly peer: string
}

/**
 * The bus's event stream, `GET /events` (Server-Sent Events): what the bus accepts, how each
 * delivery ends, and services coming and going, to every client that follows it. Each event
 * is serialised once and written to every client; the bus never waits for one: a client
 * whose unsent data passes `buffer` bytes is dropped. With no client, every emitter returns
 * at its first line, before anything is built: the stream costs an unwatched bus nothing.
 */
export class EventStream {
  readonly #log: Logger
  readonly #buffer: number
  readonly #maxClients: number
  readonly #preview: number
  readonly #keepAliveInterval: number
  readonly #clients = new Set<Client>()
  #keepAlive: NodeJS.Timeout | undefined
  #lastId = 0
  #closed = false
  // The frames of this turn of the event loop, written to every client in one go when it
  // ends: one write per client per turn rather than per event (a busy bus makes several
  // events per turn, and each write to a socket is a system call).
  #unwritten = ''
  #flushing: NodeJS.Immediate | undefined

  constructor(options: EventStreamOptions) {
    this.#log = options.logger
    this.#buffer = options.buffer
    this.#maxClients = options.maxClients
    this.#preview = options.preview
    this.#keepAliveInterval = options.keepAlive ?? KEEP_ALIVE_INTERVAL
  }

  /** Whether any client follows the stream: callers that would build something check it first. */
  get watched(): boolean {
    return this.#clients.size > 0
  }

  /** The bus accepted `message`, which goes to `deliveries` (one per receiving service). */
  message(message: RoutedMessage, deliveries: readonly Delivery[], payload: unknown): void {
    if (this.#clients.size === 0) return
    this.#emit(
      messageEvent(
        message,
        deliveries.map((delivery) => delivery.service.name),
        payload,
        this.#preview,
      ),
    )
  }

  /** The bus accepted `message` and found no receiver: `reason` is what the sender was told. */
  unrouted(message: AcceptedMessage, payload: unknown, reason: string): void {
    if (this.#clients.size === 0) return
    this.#emit(messageEvent(message, [], payload, this.#preview))
    this.#emit({
      type: 'delivery',
      time: new Date().toISOString(),
      id: message.id,
      name: message.publicName,
      sender: message.sender,
      receiver: null,
      ...(message.responseTo !== undefined && { responseTo: message.responseTo }),
      outcome: 'no-receiver',
      durationMs: sinceMs(message.accepted),
      error: { code: ErrorCodes.NO_RECEIVER, message: reason },
    })
  }

  /**
   * One delivery ended with `outcome`. Arguments rather than an object: the caller builds
   * nothing for an unwatched bus.
   */
  delivery(
    delivery: Delivery,
    message: RoutedMessage,
    outcome: DeliveryOutcome,
    status?: number,
    reason?: string,
    code?: string,
  ): void {
    if (this.#clients.size === 0) return
    const { service, internalName } = delivery
    this.#emit({
      type: 'delivery',
      time: new Date().toISOString(),
      id: message.id,
      name: message.publicName,
      ...(internalName !== message.publicName && { internalName }),
      sender: message.sender,
      receiver: service.name,
      ...(service.instance !== undefined && { instance: service.instance }),
      ...(message.responseTo !== undefined && { responseTo: message.responseTo }),
      outcome,
      ...(status !== undefined && { status }),
      durationMs: sinceMs(message.accepted),
      ...(reason !== undefined && {
        error: code === undefined ? { message: reason } : { code, message: reason },
      }),
    })
  }

  /** A service's entry changed: a registration, or an instance known by its address only. */
  service(
    change: ServiceEvent['change'],
    service: ServiceRegistration | Pick<Receiver, 'name' | 'instance' | 'host' | 'port'>,
  ): void {
    if (this.#clients.size === 0) return
    const { receives, sends } = service as Partial<ServiceRegistration>
    this.#emit({
      type: 'service',
      time: new Date().toISOString(),
      service: service.name,
      ...(service.instance !== undefined && { instance: service.instance }),
      change,
      host: service.host,
      port: service.port,
      ...(receives !== undefined && { receives }),
      ...(sends !== undefined && { sends }),
    })
  }

  /**
   * Adds `GET /events`. Behind the bus's token check like every other route (in identity mode
   * the operator's only: see identity.ts). `closing` says whether the bus shuts down: then, as
   * for `POST /send`, the answer is 503.
   */
  addRoute(app: FastifyInstance, closing: () => boolean): void {
    // No HEAD route: it would hold a stream open with nothing to write on it.
    app.get(EVENTS_PATH, { exposeHeadRoute: false }, (request, reply) => {
      if (closing() || this.#closed) {
        sendErrorAnswer(reply, {
          status: statusOf(ErrorCodes.BUS_CLOSING),
          code: ErrorCodes.BUS_CLOSING,
          text: 'ExoCom is shutting down',
        })
        return
      }
      if (this.#clients.size >= this.#maxClients) {
        const text = `ExoCom has ${this.#clients.size} clients on its event stream (GET /events) already, its limit (maxEventClients): it takes no more. Close one (a forgotten tail or dev page), or start the bus with a higher maxEventClients.`
        this.#log.warn(
          {
            url: request.url,
            status: TOO_MANY_STATUS,
            code: ErrorCodes.BUS_TOO_MANY_EVENT_CLIENTS,
          },
          `request refused: ${text}`,
        )
        sendErrorAnswer(reply, {
          status: TOO_MANY_STATUS,
          code: ErrorCodes.BUS_TOO_MANY_EVENT_CLIENTS,
          text,
        })
        return
      }
      // The response is the stream's from here on: Fastify neither ends nor times it.
      reply.hijack()
      const response = reply.raw
      response.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        // A proxy (nginx) that buffers answers would hold the events back.
        'x-accel-buffering': 'no',
      })
      const { remoteAddress, remotePort } = request.socket
      const client: Client = { response, peer: `${remoteAddress ?? '?'}:${remotePort ?? '?'}` }
      // What was made before it came goes to the others: its stream starts with its hello.
      this.#flush()
      this.#clients.add(client)
      response.once('close', () => this.#remove(client))
      // A socket error (a reset) is the client's going: its close follows, nothing to throw.
      response.on('error', () => {})
      this.#keepAlive ??= setInterval(() => this.#writeAll(KEEP_ALIVE), this.#keepAliveInterval)
      this.#keepAlive.unref()
      this.#write(
        client,
        frame(++this.#lastId, { type: 'hello', time: new Date().toISOString(), version: VERSION }),
      )
    })
  }

  /**
   * Ends every stream at once (a client with unread data is cut off: its end would never be
   * read) and refuses new ones: the bus is closing.
   */
  close(): void {
    this.#closed = true
    this.#flush()
    for (const client of this.#clients) {
      this.#remove(client)
      if (client.response.writableLength > 0) client.response.destroy()
      else client.response.end()
    }
  }

  #emit(event: BusEvent): void {
    this.#unwritten += frame(++this.#lastId, event)
    this.#flushing ??= setImmediate(this.#flush)
  }

  readonly #flush = (): void => {
    clearImmediate(this.#flushing)
    this.#flushing = undefined
    const text = this.#unwritten
    this.#unwritten = ''
    if (text !== '') this.#writeAll(text)
  }

  #writeAll(text: string): void {
    // Encoded once for all clients: each write then shares the one buffer.
    const bytes = Buffer.from(text)
    for (const client of this.#clients) this.#write(client, bytes)
  }

  #write(client: Client, text: string | Buffer): void {
    const { response } = client
    // Gone, its close event not yet heard: there is nobody to write to.
    if (response.destroyed) return
    response.write(text)
    // Unsent bytes: what Node holds for the socket once the kernel's buffer is full. The bus
    // never waits for a client to read; one that falls this far behind goes.
    const unsent = response.writableLength
    if (unsent <= this.#buffer) return
    this.#remove(client)
    response.destroy()
    this.#log.warn(
      { client: client.peer, unsent, eventsBuffer: this.#buffer },
      `event stream client ${client.peer} dropped: it left ${unsent} bytes of events unread, more than the eventsBuffer of ${this.#buffer} bytes, and the bus does not wait for a client. It may connect again (what was sent meanwhile is lost), or start the bus with a larger eventsBuffer.`,
    )
  }

  #remove(client: Client): void {
    if (!this.#clients.delete(client) || this.#clients.size > 0) return
    clearInterval(this.#keepAlive)
    this.#keepAlive = undefined
    // Nobody to write to: what waits for the end of the turn goes nowhere.
    clearImmediate(this.#flushing)
    this.#flushing = undefined
    this.#unwritten = ''
  }
}

function messageEvent(
  message: AcceptedMessage,
  receivers: readonly string[],
  payload: unknown,
  previewBytes: number,
): MessageEvent {
  // A payload from a request is shown as its sender wrote it; the bus's own are serialised.
  const json =
    payload === undefined
      ? undefined
      : payload instanceof RawPayload
        ? payload.json
        : JSON.stringify(payload)
  return {
    type: 'message',
    time: new Date().toISOString(),
    id: message.id,
    name: message.publicName,
    ...(message.sentName !== undefined &&
      message.sentName !== message.publicName && { sentName: message.sentName }),
    sender: message.sender,
    ...(message.responseTo !== undefined && { responseTo: message.responseTo }),
    receivers,
    size: json === undefined ? 0 : Buffer.byteLength(json),
    ...(json !== undefined && previewBytes > 0 && { preview: preview(json, previewBytes) }),
  }
}

/** The first `bytes` bytes of `json`, cut between characters, and `…` when it was cut. */
export function preview(json: string, bytes: number): string {
  if (json.length * 3 <= bytes || Buffer.byteLength(json) <= bytes) return json
  const start = new Uint8Array(bytes)
  // Writes whole characters only: a character that does not fit is left out, never halved.
  const { read } = UTF8.encodeInto(json, start)
  return `${json.slice(0, read)}…`
}

/** One event as Server-Sent Events write it: its data is one line of JSON. */
function frame(id: number, event: BusEvent): string {
  return `event: ${event.type}\nid: ${id}\ndata: ${JSON.stringify(event)}\n\n`
}

function sinceMs(start: number): number {
  return Math.round((performance.now() - start) * 1000) / 1000
}
