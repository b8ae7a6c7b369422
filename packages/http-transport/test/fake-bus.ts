import { once } from 'node:events'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'

export interface Arrived {
  method: string
  url: string
  body: string
}

/**
 * A bus stand-in on a real server: answers registrations with `offer` (or refuses them with
 * 401 while `refusing`), holds single sends while `holding`, and accepts every message of a
 * batch and every withdrawal. Independent of `@exorelay/exocom`.
 */
export async function startBus(t: TestContext, offer: string) {
  const requests: Arrived[] = []
  const held: ServerResponse[] = []
  const arrivals: { count: number; resolve: () => void }[] = []
  const state = { holding: true, refusing: false }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const request = {
        method: req.method ?? '',
        url: req.url ?? '',
        body: Buffer.concat(chunks).toString('utf8'),
      }
      requests.push(request)
      for (const waiter of arrivals.filter((w) => requests.length >= w.count)) {
        arrivals.splice(arrivals.indexOf(waiter), 1)
        waiter.resolve()
      }
      if (request.method === 'PUT' && state.refusing) {
        res.writeHead(401).end('missing or invalid token')
      } else if (request.method === 'PUT') res.end(offer)
      else if (request.url === '/send') {
        const entries = JSON.parse(request.body) as unknown[]
        res.end(JSON.stringify(entries.map(() => ({ status: 200 }))))
      } else if (request.method === 'POST' && state.holding) held.push(res)
      else res.end()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  /** Stops the server: the bus is gone, and connections to its port are refused. */
  const stop = async () => {
    if (!server.listening) return
    server.closeAllConnections()
    server.close()
    await once(server, 'close')
  }
  t.after(stop)
  return {
    port: (server.address() as AddressInfo).port,
    stop,
    requests,
    state,
    release: () => {
      for (const res of held.splice(0)) res.end()
    },
    /** Resolves once `count` requests arrived in all; rejects if they do not within `timeout` ms. */
    received: (count: number, timeout = 10_000) =>
      requests.length >= count
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const waiter = {
              count,
              resolve: () => {
                clearTimeout(timer)
                resolve()
              },
            }
            const timer = setTimeout(() => {
              arrivals.splice(arrivals.indexOf(waiter), 1)
              reject(
                new Error(
                  `received(${count}): the bus got ${requests.length} request(s) within ${timeout} ms: ${requests.map((r) => `${r.method} ${r.url}`).join(', ')}`,
                ),
              )
            }, timeout)
            timer.unref()
            arrivals.push(waiter)
          }),
  }
}
