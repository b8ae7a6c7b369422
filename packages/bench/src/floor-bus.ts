// The floor's bus: the least an ExoCom can be. Routes `POST /send/:name` to the one service
// that receives the name, as `POST /run/:name`, over a keep-alive undici Pool per service.
// No validation beyond what Fastify does, no logging, no registration.
import Fastify from 'fastify'
import { Pool } from 'undici'
import { serveParent } from './child.js'
import { JSON_HEADERS, type WireBody } from './floor-wire.js'

const routes = new Map<string, { pool: Pool; path: string }>()
const app = Fastify({ logger: false })

app.post<{ Params: { name: string }; Body: WireBody }>('/send/:name', (request, reply) => {
  const route = routes.get(request.params.name)
  if (route === undefined) {
    reply.code(404).send()
    return
  }
  const { id, payload, responseTo } = request.body
  const body = responseTo === undefined ? { id, payload } : { id, payload, responseTo }
  route.pool
    .request({
      method: 'POST',
      path: route.path,
      headers: JSON_HEADERS,
      body: JSON.stringify(body),
    })
    .then(
      (response) => response.body.dump(),
      () => {},
    )
  // Like ExoCom: the sender gets its 200 once the delivery has started.
  reply.code(200).send()
})

await app.listen({ port: 0, host: '127.0.0.1' })
const { port } = app.server.address() as { port: number }

serveParent({
  port,
  routes(table) {
    for (const [name, servicePort] of Object.entries(table)) {
      // As many connections per receiver as ExoCom's deliverer keeps.
      const pool = new Pool(`http://127.0.0.1:${servicePort}`, { connections: 64 })
      routes.set(name, { pool, path: `/run/${encodeURIComponent(name)}` })
    }
  },
  async stop() {
    await app.close()
    await Promise.all([...routes.values()].map(({ pool }) => pool.close()))
  },
})
