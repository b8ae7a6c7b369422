import type { IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'
import { RecordingLogger } from '@exorelay/testing'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import { type ExoCom, type ExoComOptions, startExoCom } from '../src/exocom.js'

export interface RecordedRun {
  /** The raw request path, e.g. `/run/users.create`, or `/run` for a batch. */
  url: string
  /** The decoded message name; empty for a batch. */
  name: string
  headers: IncomingHttpHeaders
  body: unknown
  /** The sender's socket port: equal for requests on one keep-alive connection. */
  remotePort: number | undefined
}

/** `ok`: 200 (with a result per message for a batch); `fail`: 500; `hang`: no answer until released; or this answer. */
export type Behaviour = 'ok' | 'fail' | 'hang' | { status: number; body?: unknown }

export interface Receiver {
  readonly name: string
  readonly port: number
  readonly runs: RecordedRun[]
  /**
   * Resolves once the receiver has got `count` requests in all; rejects saying how many it
   * got when they do not come within `timeout` ms (default 10,000).
   */
  waitForRuns(count: number, timeout?: number): Promise<RecordedRun[]>
  /** Answers 200 to every request that is hanging now. */
  release(): void
  close(): Promise<void>
}

/**
 * A service stand-in: a Fastify app on 127.0.0.1, port 0, that records every `POST /run/*`
 * and every batch (`POST /run`) and answers as `behaviour` says. Closed after the test.
 */
export async function startReceiver(
  t: TestContext,
  name: string,
  behaviour: Behaviour | ((run: RecordedRun) => Behaviour) = 'ok',
): Promise<Receiver> {
  const app = Fastify({ logger: false, forceCloseConnections: true })
  const runs: RecordedRun[] = []
  const waiters = new Set<{
    readonly count: number
    readonly resolve: (runs: RecordedRun[]) => void
  }>()
  const hanging = new Set<() => void>()
  const run = async (request: FastifyRequest, reply: FastifyReply) => {
    const run: RecordedRun = {
      url: request.url,
      name: (request.params as { '*'?: string })['*'] ?? '',
      headers: request.headers,
      body: request.body,
      remotePort: request.socket.remotePort,
    }
    runs.push(run)
    for (const waiter of waiters) {
      if (runs.length < waiter.count) continue
      waiters.delete(waiter)
      waiter.resolve([...runs])
    }
    const action = typeof behaviour === 'function' ? behaviour(run) : behaviour
    if (action === 'fail') return reply.code(500).type('text/plain').send('the handler threw')
    if (typeof action === 'object') return reply.code(action.status).send(action.body)
    if (action === 'hang') await new Promise<void>((resolve) => hanging.add(resolve))
    if (Array.isArray(run.body)) return reply.code(200).send(run.body.map(() => ({ status: 200 })))
    return reply.code(200).send()
  }
  app.post('/run/*', run)
  app.post('/run', run)
  // Let hanging handlers go, so nothing stays pending after the test.
  app.addHook('preClose', async () => {
    for (const release of hanging) release()
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  let closed: Promise<void> | undefined
  const receiver: Receiver = {
    name,
    port: (app.server.address() as AddressInfo).port,
    runs,
    waitForRuns(count, timeout = 10_000) {
      if (runs.length >= count) return Promise.resolve([...runs])
      return new Promise((resolve, reject) => {
        const waiter = {
          count,
          resolve: (got: RecordedRun[]) => {
            clearTimeout(timer)
            resolve(got)
          },
        }
        const timer = setTimeout(() => {
          waiters.delete(waiter)
          const urls = runs.map((run) => run.url).join(', ') || 'none'
          reject(
            new Error(
              `waitForRuns(${count}): receiver '${name}' got ${runs.length} run(s) within ${timeout} ms (${urls})`,
            ),
          )
        }, timeout)
        // Only a guard: it must never keep the test process alive by itself.
        timer.unref()
        waiters.add(waiter)
      })
    },
    release() {
      for (const resume of hanging) resume()
      hanging.clear()
    },
    close() {
      closed ??= app.close()
      return closed
    },
  }
  t.after(() => receiver.close())
  return receiver
}

/** A registration for a receiver, with the names it receives. */
export function serviceOf(
  receiver: Receiver,
  receives: string[],
  extra: { internalNamespace?: string; batches?: boolean } = {},
): {
  name: string
  host: string
  port: number
  receives: string[]
  internalNamespace?: string
  batches?: boolean
} {
  return { name: receiver.name, host: '127.0.0.1', port: receiver.port, receives, ...extra }
}

/** Starts a bus on 127.0.0.1, port 0, with a recording logger; closed after the test. */
export async function startBus(
  t: TestContext,
  options: ExoComOptions = {},
): Promise<{ exocom: ExoCom; log: RecordingLogger }> {
  const log = new RecordingLogger()
  const exocom = await startExoCom({ port: 0, logger: log, ...options })
  t.after(() => exocom.close())
  return { exocom, log }
}

export interface Answer {
  status: number
  code: string | null
  contentType: string | null
  text: string
}

/** Sends a request to the bus and reads the whole answer. */
export async function request(
  exocom: ExoCom,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
  headers: Record<string, string> = {},
): Promise<Answer> {
  // A bus that never answers fails the test instead of hanging it.
  const init: RequestInit = { method, headers: { ...headers }, signal: AbortSignal.timeout(10_000) }
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body)
    init.headers = { ...headers, 'content-type': contentType }
  }
  const response = await fetch(`${exocom.url}${path}`, init)
  return {
    status: response.status,
    code: response.headers.get('exorelay-error-code'),
    contentType: response.headers.get('content-type'),
    text: await response.text(),
  }
}

/** `POST /send/<name>` with a JSON body, the way a relay sends, with `authorization` when given. */
export function send(
  exocom: ExoCom,
  name: string,
  body: unknown,
  authorization?: string,
): Promise<Answer> {
  const headers: Record<string, string> =
    authorization === undefined ? {} : { authorization: authorization }
  return request(exocom, 'POST', `/send/${encodeURIComponent(name)}`, body, undefined, headers)
}

export { withDeadline } from '@exorelay/testing'

/** A service entry of `GET /config.json` with one instance: its fields, and that instance. */
export function shownWithOneInstance<T extends { name: string }>(
  entry: T,
): T & { instances: Omit<T, 'name'>[] } {
  const { name: _name, ...instance } = entry
  return { ...entry, instances: [instance] }
}
