import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type TestContext, test } from 'node:test'
import { startExoCom } from '@exorelay/exocom'
import { withDeadline } from '@exorelay/testing'
import { ErrorCodes, ExoRelay, TransportError } from '../src/index.js'

// A bus refuses a message to a receiver that has `maxPending` messages under way (503
// EXORELAY_ERR_BUS_RECEIVER_BUSY): the sender's `await relay.send()` rejects at once with
// that code, alone or in a batch, instead of waiting out its timeout for a delivery the bus
// dropped.

/** A receiver that takes every delivery and answers none until released. */
async function hungReceiver(t: TestContext) {
  const held: ServerResponse[] = []
  const server = createServer((request, response) => {
    request.resume()
    held.push(response)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  return {
    port: (server.address() as AddressInfo).port,
    held,
    release() {
      for (const response of held.splice(0)) response.writeHead(200).end()
    },
  }
}

test('a send to a receiver at its limit rejects at once with EXORELAY_ERR_BUS_RECEIVER_BUSY, alone or in a batch', {
  timeout: 60_000,
}, async (t) => {
  const orders = await hungReceiver(t)
  const bus = await startExoCom({
    port: 0,
    logger: false,
    maxPending: 3,
    services: [
      { name: 'orders', host: '127.0.0.1', port: orders.port, receives: ['orders.create'] },
    ],
  })
  const web = new ExoRelay({ serviceName: 'web', exocomPort: bus.port, port: 0, logger: false })
  t.after(async () => {
    orders.release()
    await withDeadline(web.close(), 15_000, () => 'the relay did not close')
    await withDeadline(bus.close(), 15_000, () => 'the bus did not close')
  })
  await web.listen()

  // Accepted: they wait for replies that never come (their deadline is far), until the close.
  for (const n of [1, 2, 3]) web.send('orders.create', { n }, { timeout: 60_000 }).catch(() => {})
  const refused = await withDeadline(
    web.send('orders.create', { n: 4 }, { timeout: 60_000 }).then(
      () => assert.fail('the fourth send resolved'),
      (error: unknown) => error,
    ),
    10_000,
    () => 'the fourth send did not reject at once',
  )
  assert.ok(refused instanceof TransportError)
  assert.equal(refused.code, ErrorCodes.BUS_RECEIVER_BUSY)
  assert.equal(refused.status, 503)
  assert.match(
    refused.message,
    /^ExoCom did not accept the message 'orders\.create': its receiver 'orders' has 3 messages under way, .* \(maxPending 3\)\. .*Send it again later\.$/,
  )

  // Several at once: the relay sends those beyond its first in a batch (`POST /send`), whose
  // results it reads as the single route's answers.
  const flood = await withDeadline(
    Promise.all(
      Array.from({ length: 8 }, (_, n) =>
        web.send('orders.create', { n: 5 + n }, { timeout: 60_000 }).then(
          () => undefined,
          (error: unknown) => error,
        ),
      ),
    ),
    10_000,
    () => 'the flood of sends did not reject at once',
  )
  for (const error of flood) {
    assert.ok(error instanceof TransportError)
    assert.equal(error.code, ErrorCodes.BUS_RECEIVER_BUSY)
  }
  assert.equal(orders.held.length <= 3, true, `${orders.held.length} deliveries`)
  assert.equal(web.status().pendingReplies, 3)
})
