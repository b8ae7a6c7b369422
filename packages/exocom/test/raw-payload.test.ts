import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, type TestContext, test } from 'node:test'
import { rawHttpClient, withDeadline } from '@exorelay/testing'
import { startBus } from './helpers.js'

// The bus forwards a payload as the text its sender wrote (decision 0028): it reads the
// envelope's fields and steps over the payload, never parsing it into objects nor writing it
// again. envelope-scan.test.ts tests the scan itself; here, what a receiver gets.

/** A receiver that keeps each request's body as the bytes it got, decoded, in order. */
async function startTextReceiver(t: TestContext) {
  const bodies: string[] = []
  const waiters: Array<() => void> = []
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'))
      response.end()
      for (const wake of waiters.splice(0)) wake()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => new Promise((resolve) => server.close(resolve)))
  const port = (server.address() as AddressInfo).port
  /** Resolves with the first `count` bodies once they came. */
  const received = (count: number): Promise<string[]> =>
    withDeadline(
      (async () => {
        while (bodies.length < count) await new Promise<void>((wake) => waiters.push(wake))
        return bodies.slice(0, count)
      })(),
      10_000,
      () => `the receiver did not get ${count} messages (it got ${bodies.length})`,
    )
  return { port, received }
}

// Whitespace, number spellings, escapes and a duplicate key JSON.stringify would all rewrite.
const PAYLOAD = String.raw`{ "b" : [ 1.0, 2e3, -0, "\u0041\/\ud83d\ude00", "grüße" ],
  "b": null, "c": {} }`

describe('the payload at the receiver', () => {
  test('is the exact text the sender wrote, between the fields the bus forwards', async (t) => {
    const receiver = await startTextReceiver(t)
    const { exocom } = await startBus(t, {
      services: [
        { name: 'users', host: '127.0.0.1', port: receiver.port, receives: ['users.create'] },
      ],
    })
    const client = rawHttpClient(exocom.url)
    t.after(() => client.close())

    const answer = await client.post(
      '/send/users.create',
      `{"sender":"web","instance":"i-1","id":"r-1","payload":${PAYLOAD},"timeout":1000.5,"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}`,
    )

    assert.equal(answer.status, 200, answer.text)
    const [body] = await receiver.received(1)
    assert.equal(
      body,
      `{"id":"r-1","payload":${PAYLOAD},"timeout":1001,"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}`,
    )
  })

  test('of each message of a batch is the text its sender wrote, and a null payload is none', async (t) => {
    const receiver = await startTextReceiver(t)
    const { exocom } = await startBus(t, {
      services: [
        {
          name: 'users',
          host: '127.0.0.1',
          port: receiver.port,
          receives: ['users.create', 'users.delete'],
        },
      ],
    })
    const client = rawHttpClient(exocom.url)
    t.after(() => client.close())

    const answer = await client.post(
      '/send',
      `[{"name":"users.create","sender":"web","id":"b-1","payload":${PAYLOAD}},
        {"name":"users.delete","sender":"web","id":"b-2","payload":null,"responseTo":"q-1"}]`,
    )

    assert.equal(answer.status, 200, answer.text)
    assert.deepEqual(JSON.parse(answer.text), [{ status: 200 }, { status: 200 }])
    const bodies = await receiver.received(2)
    assert.deepEqual([...bodies].sort(), [
      `{"id":"b-1","payload":${PAYLOAD}}`,
      '{"id":"b-2","responseTo":"q-1"}',
    ])
  })
})
