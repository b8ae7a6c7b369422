// The floor's answering service: receives `bench.request` on `POST /run/:name`, answers the
// bus 200 and sends `bench.reply` with `responseTo` through an undici Pool. No validation,
// no logging.
import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import { Pool } from 'undici'
import { busPort, serveParent } from './child.js'
import { JSON_HEADERS, SENDER_CONNECTIONS, type WireBody } from './floor-wire.js'
import { REPLY_NAME } from './payload.js'

const bus = new Pool(`http://127.0.0.1:${busPort()}`, { connections: SENDER_CONNECTIONS })
const replyPath = `/send/${encodeURIComponent(REPLY_NAME)}`
const app = Fastify({ logger: false })

app.post<{ Body: WireBody }>('/run/:name', (request, reply) => {
  const { id, payload } = request.body
  const body = JSON.stringify({ sender: 'users', id: randomUUID(), payload, responseTo: id })
  bus.request({ method: 'POST', path: replyPath, headers: JSON_HEADERS, body }).then(
    (response) => response.body.dump(),
    () => {},
  )
  reply.code(200).send()
})

await app.listen({ port: 0, host: '127.0.0.1' })
const { port } = app.server.address() as { port: number }

serveParent({
  port,
  async stop() {
    await app.close()
    await bus.close()
  },
})
