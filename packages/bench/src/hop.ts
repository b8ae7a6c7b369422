// One HTTP hop alone: what a request from an undici client to a Fastify server costs, in CPU
// of both processes per message, for the ways a relay could carry messages. The question it
// answers (decision 0011): can a different HTTP framing cut the cost per message below one
// HTTP/1.1 request each, which is where the floor and ExoRelay both sit?
//
// Variants: `h1` (one message per request, undici Pool of 16 connections, as the floor and the
// sender do), `batch-N` (N messages per request as a JSON array, the batch extension's body),
// `h2c-undici` (undici's H2CClient, one message per stream) and `h2c-node` (node:http2's
// client). The server is Fastify in a child process, reading the JSON body as ExoRelay's
// listener does. Run: npm run hop -w @exorelay/bench [-- --rounds N --duration S --in-flight N --only a,b]
import { fork } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import http2 from 'node:http2'
import { parseArgs } from 'node:util'
import Fastify, { type FastifyInstance } from 'fastify'
import { type Dispatcher, H2CClient, Pool } from 'undici'
import { markdownTable } from './markdown.js'
import { PAYLOAD, REQUEST_NAME } from './payload.js'
import { median } from './stats.js'

interface ServerReport {
  readonly cpu: number
  readonly messages: number
}

type ServerMessage = { port: number } | ServerReport

/** The child: a Fastify server answering single messages and batches, reporting its CPU. */
async function serve(useHttp2: boolean): Promise<void> {
  // The routes read no HTTP/2-specific request fields: one instance type serves both servers.
  const app = (
    useHttp2 ? Fastify({ logger: false, http2: true }) : Fastify({ logger: false })
  ) as FastifyInstance
  let messages = 0
  app.post('/run/*', (request, reply) => {
    if (typeof (request.body as { id?: unknown }).id !== 'string') throw new Error('no id')
    messages++
    reply.code(200).send()
  })
  app.post('/run', (request, reply) => {
    const batch = request.body as Array<{ id?: unknown }>
    const results = new Array<{ status: number }>(batch.length)
    for (let index = 0; index < batch.length; index++) {
      results[index] = { status: typeof batch[index]!.id === 'string' ? 200 : 400 }
    }
    messages += batch.length
    reply.code(200).send(results)
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  let start = process.cpuUsage()
  process.on('message', (command) => {
    if (command === 'start') {
      start = process.cpuUsage()
      messages = 0
      return
    }
    const used = process.cpuUsage(start)
    process.send!({ cpu: used.user + used.system, messages } satisfies ServerReport)
    void app.close().then(() => process.exit(0))
  })
  process.send!({ port })
}

interface Variant {
  readonly key: string
  readonly http2: boolean
  /** Messages per request. */
  readonly batch: number
  connect(origin: string): Sender
}

interface Sender {
  /** Sends `count` messages in one request; resolves when the server answered. */
  send(count: number): Promise<void>
  close(): Promise<void>
}

function messageBody(): string {
  return JSON.stringify({ id: randomUUID(), sender: 'web', payload: PAYLOAD })
}

function batchBody(count: number): string {
  const entries: string[] = []
  for (let index = 0; index < count; index++) {
    entries.push(
      JSON.stringify({ name: REQUEST_NAME, id: randomUUID(), sender: 'web', payload: PAYLOAD }),
    )
  }
  return `[${entries.join(',')}]`
}

const HEADERS = { 'content-type': 'application/json' }

function undiciSender(dispatcher: Dispatcher): Sender {
  return {
    async send(count) {
      const single = count === 1
      const response = await dispatcher.request({
        method: 'POST',
        path: single ? `/run/${REQUEST_NAME}` : '/run',
        headers: HEADERS,
        body: single ? messageBody() : batchBody(count),
      })
      if (response.statusCode !== 200) throw new Error(`the server answered ${response.statusCode}`)
      if (single) await response.body.dump()
      else await response.body.json()
    },
    close: () => dispatcher.close(),
  }
}

function nodeHttp2Sender(origin: string): Sender {
  const session = http2.connect(origin)
  return {
    send: () =>
      new Promise((resolve, reject) => {
        const body = messageBody()
        const stream = session.request({
          ':method': 'POST',
          ':path': `/run/${REQUEST_NAME}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        })
        stream.on('response', (headers) => {
          if (headers[':status'] !== 200)
            reject(new Error(`the server answered ${headers[':status']}`))
        })
        stream.on('error', reject)
        stream.on('end', () => resolve())
        stream.resume()
        stream.end(body)
      }),
    close: () => new Promise((resolve) => session.close(() => resolve())),
  }
}

const VARIANTS: readonly Variant[] = [
  ...[1, 2, 4, 8].map(
    (batch): Variant => ({
      key: batch === 1 ? 'h1' : `batch-${batch}`,
      http2: false,
      batch,
      connect: (origin) => undiciSender(new Pool(origin, { connections: 16 })),
    }),
  ),
  {
    key: 'h2c-undici',
    http2: true,
    batch: 1,
    connect: (origin) => undiciSender(new H2CClient(origin)),
  },
  { key: 'h2c-node', http2: true, batch: 1, connect: nodeHttp2Sender },
]

interface Measurement {
  readonly messagesPerSecond: number
  readonly clientCpu: number
  readonly serverCpu: number
}

async function measure(
  variant: Variant,
  inFlight: number,
  durationMs: number,
): Promise<Measurement> {
  const child = fork(new URL(import.meta.url), {
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      EXORELAY_HOP_ROLE: 'server',
      EXORELAY_HOP_HTTP2: variant.http2 ? '1' : '0',
    },
  })
  const next = () =>
    new Promise<ServerMessage>((resolve) =>
      child.once('message', resolve as (message: unknown) => void),
    )
  const { port } = (await next()) as { port: number }
  const sender = variant.connect(`http://127.0.0.1:${port}`)
  const loop = async (until: () => boolean, counted: { messages: number }) => {
    while (!until()) {
      await sender.send(variant.batch)
      counted.messages += variant.batch
    }
  }
  const warmUntil = Date.now() + Math.min(1500, durationMs)
  await Promise.all(
    Array.from({ length: inFlight }, () => loop(() => Date.now() > warmUntil, { messages: 0 })),
  )
  child.send('start')
  const counted = { messages: 0 }
  const cpuStart = process.cpuUsage()
  const started = process.hrtime.bigint()
  const endsAt = Date.now() + durationMs
  await Promise.all(
    Array.from({ length: inFlight }, () => loop(() => Date.now() > endsAt, counted)),
  )
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const client = process.cpuUsage(cpuStart)
  const report = next()
  child.send('stop')
  const server = (await report) as ServerReport
  await sender.close()
  return {
    messagesPerSecond: counted.messages / seconds,
    clientCpu: (client.user + client.system) / counted.messages,
    serverCpu: server.cpu / server.messages,
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '3' },
      'in-flight': { type: 'string', default: '64' },
      only: { type: 'string' },
    },
  })
  const rounds = Number(values.rounds)
  const durationMs = Number(values.duration) * 1000
  const inFlight = Number(values['in-flight'])
  const only = values.only?.split(',').map((key) => key.trim())
  const variants = VARIANTS.filter((variant) => only === undefined || only.includes(variant.key))
  const results = new Map<string, Measurement[]>(variants.map((variant) => [variant.key, []]))
  // Interleaved round by round, so that a slow stretch of the machine hits every variant.
  for (let round = 1; round <= rounds; round++) {
    for (const variant of variants) {
      const result = await measure(variant, inFlight, durationMs)
      results.get(variant.key)!.push(result)
      process.stderr.write(
        `round ${round} ${variant.key}: ${Math.round(result.messagesPerSecond)} msg/s, ${(result.clientCpu + result.serverCpu).toFixed(1)} µs CPU/msg\n`,
      )
    }
  }
  const total = (result: Measurement) => result.clientCpu + result.serverCpu
  const h1 = results.get('h1')
  const h1Cpu = h1 === undefined ? undefined : median(h1.map(total))
  const rows = variants.map((variant) => {
    const measured = results.get(variant.key)!
    const cpu = median(measured.map(total))
    return [
      variant.key,
      Math.round(median(measured.map((result) => result.messagesPerSecond))).toLocaleString(
        'en-US',
      ),
      median(measured.map((result) => result.clientCpu)).toFixed(1),
      median(measured.map((result) => result.serverCpu)).toFixed(1),
      cpu.toFixed(1),
      h1Cpu === undefined ? '' : (cpu / h1Cpu).toFixed(2),
    ]
  })
  process.stdout.write(
    `One hop, ${inFlight} requests in flight, ${rounds} rounds of ${values.duration} s, medians\n\n${markdownTable(
      ['variant', 'messages/s', 'client CPU µs/msg', 'server CPU µs/msg', 'CPU µs/msg', 'CPU / h1'],
      rows,
      ['left', 'right', 'right', 'right', 'right', 'right'],
    ).join('\n')}\n`,
  )
}

// The same file is the parent (the client, which measures) and the child (the server).
if (process.env.EXORELAY_HOP_ROLE === 'server') await serve(process.env.EXORELAY_HOP_HTTP2 === '1')
else await main()
