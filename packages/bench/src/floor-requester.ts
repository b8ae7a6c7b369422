// The floor's requesting service: sends `bench.request` with a new id through an undici Pool
// and resolves when `bench.reply` with that id as `responseTo` arrives on `POST /run/:name`.
// Correlation by id in a Map; no timeouts, no validation, no logging.
import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import { Pool } from 'undici'
import { busPort, serveParent } from './child.js'
import { JSON_HEADERS, SENDER_CONNECTIONS, type WireBody } from './floor-wire.js'
import { PAYLOAD, REQUEST_NAME } from './payload.js'

interface Waiter {
  resolve(payload: unknown): void
  reject(error: Error): void
}

const bus = new Pool(`http://127.0.0.1:${busPort()}`, { connections: SENDER_CONNECTIONS })
const requestPath = `/send/${encodeURIComponent(REQUEST_NAME)}`
const pending = new Map<string, Waiter>()
const app = Fastify({ logger: false })

app.post<{ Body: WireBody }>('/run/:name', (request, reply) => {
  const { responseTo, payload } = request.body
  const waiter = responseTo === undefined ? undefined : pending.get(responseTo)
  if (waiter === undefined) {
    reply.code(404).send()
    return
  }
  pending.delete(responseTo!)
  waiter.resolve(payload)
  reply.code(200).send()
})

function request(): Promise<unknown> {
  const id = randomUUID()
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject })
    const body = JSON.stringify({ sender: 'web', id, payload: PAYLOAD })
    bus.request({ method: 'POST', path: requestPath, headers: JSON_HEADERS, body }).then(
      (response) => {
        if (response.statusCode !== 200)
          fail(id, new Error(`The bus answered ${response.statusCode}.`))
        return response.body.dump()
      },
      (error: Error) => fail(id, error),
    )
  })
}

function fail(id: string, error: Error): void {
  const waiter = pending.get(id)
  pending.delete(id)
  waiter?.reject(error)
}

await app.listen({ port: 0, host: '127.0.0.1' })
const { port } = app.server.address() as { port: number }

serveParent({
  port,
  request,
  async stop() {
    await app.close()
    await bus.close()
  },
})
