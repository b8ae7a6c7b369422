import assert from 'node:assert/strict'
import { once } from 'node:events'
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { TestContext } from 'node:test'
import type { Logger, OutgoingEnvelope } from '@exorelay/core'
import type { ServiceRegistration } from '@exorelay/http-protocol'
import { Agent, type Dispatcher } from 'undici'
import { UndiciSender } from '../src/undici-sender.js'

// A fake ExoCom on a real node:http server, and what the sender tests share.

export interface Recorded {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: string
  socket: Socket
}

export type Respond = (request: Recorded, res: ServerResponse) => void

export interface FakeExoCom {
  port: number
  requests: Recorded[]
  /** How many TCP connections the server accepted. */
  connections: () => number
  /** Resolves with the next request that arrives; rejects if none does within `timeout` ms (default 10,000). */
  nextRequest: (timeout?: number) => Promise<Recorded>
  /** Resolves once `count` requests have arrived in all; rejects if they do not within `timeout` ms (default 10,000). */
  received: (count: number, timeout?: number) => Promise<void>
}

export const answer200: Respond = (_request, res) => res.end()

/** A node:http server on 127.0.0.1 (port 0 unless told), playing ExoCom and recording every request. */
export async function startExoCom(
  t: TestContext,
  respond: Respond = answer200,
  port = 0,
): Promise<FakeExoCom> {
  const requests: Recorded[] = []
  let connections = 0
  const waiting: ((request: Recorded) => void)[] = []
  const counting: { count: number; resolve: () => void }[] = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const recorded: Recorded = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        socket: req.socket,
      }
      requests.push(recorded)
      for (const resolve of waiting.splice(0)) resolve(recorded)
      for (const waiter of counting.filter((w) => requests.length >= w.count)) {
        counting.splice(counting.indexOf(waiter), 1)
        waiter.resolve()
      }
      respond(recorded, res)
    })
  })
  server.on('connection', () => {
    connections += 1
  })
  server.listen(port, '127.0.0.1')
  await once(server, 'listening')
  t.after(async () => {
    server.closeAllConnections()
    server.close()
    await once(server, 'close')
  })
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    connections: () => connections,
    nextRequest: (timeout = WAIT_TIMEOUT) =>
      new Promise((resolve, reject) => {
        const waiter = (request: Recorded): void => {
          clearTimeout(timer)
          resolve(request)
        }
        const timer = deadline(timeout, () => {
          waiting.splice(waiting.indexOf(waiter), 1)
          reject(
            new Error(
              `nextRequest: no request reached the fake ExoCom within ${timeout} ms (${requests.length} before)`,
            ),
          )
        })
        waiting.push(waiter)
      }),
    received: (count, timeout = WAIT_TIMEOUT) =>
      requests.length >= count
        ? Promise.resolve()
        : new Promise((resolve, reject) => {
            const waiter = {
              count,
              resolve: (): void => {
                clearTimeout(timer)
                resolve()
              },
            }
            const timer = deadline(timeout, () => {
              counting.splice(counting.indexOf(waiter), 1)
              reject(
                new Error(
                  `received(${count}): the fake ExoCom got ${requests.length} request(s) within ${timeout} ms`,
                ),
              )
            })
            counting.push(waiter)
          }),
  }
}

const WAIT_TIMEOUT = 10_000

/** An unref'd timer: a wait's deadline must never keep the test process alive by itself. */
function deadline(timeout: number, expire: () => void): NodeJS.Timeout {
  const timer = setTimeout(expire, timeout)
  timer.unref()
  return timer
}

export function startSender(
  t: TestContext,
  port: number,
  options: Partial<ConstructorParameters<typeof UndiciSender>[0]> = {},
): UndiciSender {
  const sender = new UndiciSender({ exocomHost: '127.0.0.1', exocomPort: port, ...options })
  t.after(() => sender.close())
  return sender
}

/** A port that was just free: bound, then closed, so nothing listens on it. */
export async function closedPort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

export function envelope(fields: Partial<OutgoingEnvelope> = {}): OutgoingEnvelope {
  return { name: 'users.create', id: 'id-1', sender: 'web', payload: { name: 'Will' }, ...fields }
}

export const SEND = { timeout: 2000 }

export const registration: ServiceRegistration = {
  name: 'users',
  host: '127.0.0.1',
  port: 4001,
  receives: ['users.create'],
  sends: ['users.created'],
}

export function isCode(code: string) {
  return (error: unknown): boolean => {
    assert.equal((error as { code?: unknown }).code, code, String(error))
    return true
  }
}

export function recordingLogger(): Logger & {
  lines: { level: string; bindings: object; message?: string }[]
} {
  const lines: { level: string; bindings: object; message?: string }[] = []
  const at =
    (level: string) =>
    (bindings: object, message?: string): void => {
      lines.push(message === undefined ? { level, bindings } : { level, bindings, message })
    }
  const logger = {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  }
  return logger
}

/** An undici Agent that records the options of every request it dispatches; closed after the test. */
export function recordingAgent(t: TestContext): {
  agent: Agent
  seen: Dispatcher.DispatchOptions[]
} {
  const seen: Dispatcher.DispatchOptions[] = []
  class RecordingAgent extends Agent {
    override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) {
      seen.push(options)
      return super.dispatch(options, handler)
    }
  }
  const agent = new RecordingAgent()
  t.after(() => agent.close())
  return { agent, seen }
}
