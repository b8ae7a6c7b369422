import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { ORIGINAL_ERROR_PAGE, RecordingLogger, withDeadline } from '@exorelay/testing'
import { ErrorCodes, ExoRelay } from '../src/index.js'

test('a reply the bus refuses with an HTML page and a stack becomes an error reply that quotes one plain sentence', async (t) => {
  // A bus that refuses `users.created` as the original did, and takes everything else.
  const sent: { url: string; body: unknown }[] = []
  let errorReply: (body: unknown) => void
  const errorReplied = new Promise<unknown>((resolve) => {
    errorReply = resolve
  })
  const bus = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null')
      sent.push({ url: req.url ?? '', body })
      if (req.url === '/send/users.created') {
        res.writeHead(500, { 'content-type': 'text/html; charset=utf-8' })
        res.end(ORIGINAL_ERROR_PAGE)
        return
      }
      res.end()
      if (req.url === '/send/__error') errorReply(body)
    })
  })
  const log = new RecordingLogger()
  bus.listen(0, '127.0.0.1')
  await once(bus, 'listening')
  const users = new ExoRelay({
    serviceName: 'users',
    exocomHost: '127.0.0.1',
    exocomPort: (bus.address() as AddressInfo).port,
    port: 0,
    logger: log,
    register: false,
  })
  t.after(async () => {
    await users.close()
    bus.closeAllConnections()
    bus.close()
    await once(bus, 'close')
  })
  users.registerHandler('users.create', async (user: unknown, { reply }) => {
    await reply('users.created', user)
  })
  const port = await users.listen()

  const run = await fetch(`http://127.0.0.1:${port}/run/users.create`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'request-1', sender: 'web', payload: { name: 'Will' } }),
  })
  assert.equal(run.status, 200)

  const body = (await withDeadline(
    errorReplied,
    10_000,
    () => 'no error reply reached the bus',
  )) as {
    responseTo?: string
    payload?: Record<string, unknown>
  }
  assert.equal(body.responseTo, 'request-1')
  assert.equal(body.payload?.code, ErrorCodes.BUS_REFUSED)
  const message = String(body.payload?.message)
  assert.equal(
    message,
    "ExoCom refused the message 'users.created' (answered 500: TypeError: Cannot read properties of undefined (reading 'map')).",
  )
  const wire = JSON.stringify(body)
  // Nor in what the relay logged about it, its error objects included.
  const logged = JSON.stringify(
    log.entries.map(({ message, fields }) => ({
      message,
      fields,
      err: fields.err instanceof Error ? fields.err.message : undefined,
    })),
  )
  assert.ok(log.entries.length > 0, 'the relay logged nothing about the refused reply')
  for (const leak of ['<', '&#', '/home/', ' at ', 'client-registry', 'stack']) {
    assert.ok(!wire.includes(leak), `${leak} in ${wire}`)
    assert.ok(!logged.includes(leak), `${leak} in the log: ${logged}`)
  }
  assert.deepEqual(
    sent.map((request) => request.url),
    ['/send/users.created', '/send/__error'],
  )
})
