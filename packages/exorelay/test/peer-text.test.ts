import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { ErrorCodes, ExoRelay } from '../src/index.js'

// The original ExoCom's answer when it threw while routing (Express's default error page):
// its stack, with the absolute paths of the machine it runs on.
const ORIGINAL_500_PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Error</title>
</head>
<body>
<pre>TypeError: Cannot read properties of undefined (reading &#39;map&#39;)<br> &nbsp; &nbsp;at ClientRegistry.subscribersTo (/home/u/exocom/dist/client-registry.js:47:15)<br> &nbsp; &nbsp;at ExoCom.send (/home/u/exocom/dist/exocom.js:80:31)</pre>
</body>
</html>
`

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
        res.end(ORIGINAL_500_PAGE)
        return
      }
      res.end()
      if (req.url === '/send/__error') errorReply(body)
    })
  })
  bus.listen(0, '127.0.0.1')
  await once(bus, 'listening')
  const users = new ExoRelay({
    serviceName: 'users',
    exocomHost: '127.0.0.1',
    exocomPort: (bus.address() as AddressInfo).port,
    port: 0,
    logger: false,
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

  const body = (await errorReplied) as { responseTo?: string; payload?: Record<string, unknown> }
  assert.equal(body.responseTo, 'request-1')
  assert.equal(body.payload?.code, ErrorCodes.BUS_REFUSED)
  const message = String(body.payload?.message)
  assert.equal(
    message,
    "ExoCom refused the message 'users.created' (answered 500: TypeError: Cannot read properties of undefined (reading 'map')).",
  )
  const wire = JSON.stringify(body)
  for (const leak of ['<', '&#', '/home/', ' at ', 'client-registry', 'stack']) {
    assert.ok(!wire.includes(leak), `${leak} in ${wire}`)
  }
  assert.deepEqual(
    sent.map((request) => request.url),
    ['/send/users.created', '/send/__error'],
  )
})
