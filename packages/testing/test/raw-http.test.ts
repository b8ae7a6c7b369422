import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type TestContext, test } from 'node:test'
import { ErrorCodes } from '@exorelay/core'
import { ERROR_CODE_HEADER } from '@exorelay/http-protocol'
import { openRawConnection, rawHttpClient, requestStarted } from '../src/raw-http.js'

interface Seen {
  url: string | undefined
  contentType: string | undefined
  body: string
}

/**
 * A server that records each request and answers 200, or 400 with a code on `/refuse`.
 * Its request timeout is long, so a stalled request stays open until the test ends it.
 */
async function startServer(t: TestContext): Promise<{ server: Server; seen: Seen[] }> {
  const seen: Seen[] = []
  const server = createServer({ requestTimeout: 60_000 }, async (request, response) => {
    let body: string
    try {
      body = await text(request)
    } catch {
      return // The client went away halfway through its body.
    }
    seen.push({ url: request.url, contentType: request.headers['content-type'], body })
    if (request.url === '/refuse') {
      response.writeHead(400, { [ERROR_CODE_HEADER]: ErrorCodes.INVALID_MESSAGE })
      response.end('the body is not valid JSON')
      return
    }
    response.end('ok')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  return { server, seen }
}

async function text(request: IncomingMessage): Promise<string> {
  let body = ''
  for await (const chunk of request) body += chunk
  return body
}

function origin(server: Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

test('the raw client posts a body unchanged and answers with status, error code and text', async (t) => {
  const { server, seen } = await startServer(t)
  const client = rawHttpClient(origin(server))
  t.after(() => client.close())

  const refused = await client.post('/refuse', '{"id": "m-1",')
  const accepted = await client.post('/run/hello', 'id=m-1', 'text/plain')

  assert.deepEqual(refused, {
    status: 400,
    code: ErrorCodes.INVALID_MESSAGE,
    text: 'the body is not valid JSON',
  })
  assert.deepEqual(accepted, { status: 200, code: undefined, text: 'ok' })
  assert.deepEqual(seen, [
    { url: '/refuse', contentType: 'application/json', body: '{"id": "m-1",' },
    { url: '/run/hello', contentType: 'text/plain', body: 'id=m-1' },
  ])
})

test('the raw client sends no content type when given null', async (t) => {
  const { server, seen } = await startServer(t)
  const client = rawHttpClient(origin(server))
  t.after(() => client.close())

  await client.post('/run/hello', '{}', null)

  assert.equal(seen[0]?.contentType, undefined)
})

test('a raw connection collects what the server writes until it closes', async (t) => {
  const { server } = await startServer(t)
  const connection = await openRawConnection((server.address() as AddressInfo).port, {
    signal: t.signal,
  })

  connection.socket.write('GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n')

  const written = await connection.closed
  assert.match(written, /^HTTP\/1\.1 200 OK\r\n/)
  assert.match(written, /\r\n\r\nok$/)
})

test('requestStarted resolves once the server has the headers of a stalled request; aborting destroys the connection', async (t) => {
  const { server, seen } = await startServer(t)
  const abort = new AbortController()
  const connection = await openRawConnection((server.address() as AddressInfo).port, {
    signal: abort.signal,
  })
  const started = requestStarted(connection.socket)

  connection.socket.write(
    'POST /run/hello HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 100\r\n\r\n{"id":',
  )
  await started
  abort.abort()

  assert.equal(await connection.closed, '')
  assert.equal(connection.socket.destroyed, true)
  assert.deepEqual(seen, [])
})
