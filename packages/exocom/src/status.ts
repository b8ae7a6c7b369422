import { OPEN_ROUTE } from '@exorelay/fastify-listener/internal'
import type { FastifyInstance } from 'fastify'
import type { RoutingTable } from './routing-table.js'

/**
 * What the bus tells about itself: `GET /status` (an empty 200 while it runs, open even with a
 * token: health checks carry no secrets) and `GET /config.json` (the routing table).
 */
export function addStatusRoutes(app: FastifyInstance, table: RoutingTable): void {
  app.get('/config.json', (_request, reply) => {
    reply.send(table.config())
  })
  app.get('/status', { config: OPEN_ROUTE }, (_request, reply) => {
    reply.code(200).send()
  })
}
