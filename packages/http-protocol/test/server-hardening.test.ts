import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import { type AddressInfo, connect } from 'node:net'
import { type TestContext, test } from 'node:test'
import type { Logger } from '@exorelay/core'
import { ErrorCodes } from '@exorelay/core'
import {
  checkRequestTimeout,
  clientErrorHandler,
  closeCuttingStalled,
  DEFAULT_REQUEST_TIMEOUT,
  serverTimeouts,
} from '../src/server-hardening.js'

interface Logged {
  bindings: object
  message: string | undefined
}

function recordingLogger(warnings: Logged[]): Logger {
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (bindings, message) => warnings.push({ bindings, message }),
    error() {},
    child: () => logger,
  }
  return logger
}

/** A plain Node server on a free loopback port whose client errors go to `onClientError`. */
async function startServer(
  t: TestContext,
  onClientError: ReturnType<typeof clientErrorHandler>,
): Promise<Server> {
  const server = createServer((_request, response) => response.end('ok'))
  server.on('clientError', onClientError)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  return server
}

/** Writes `bytes` on a new connection and resolves with all the server wrote before closing. */
async function exchange(server: Server, bytes: string): Promise<string> {
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1')
  socket.setEncoding('utf8')
  let written = ''
  socket.on('data', (chunk: string) => {
    written += chunk
  })
  await once(socket, 'connect')
  socket.write(bytes)
  await once(socket, 'close')
  return written
}

test('a missing request timeout is the default, and a valid one is returned as it is', () => {
  assert.equal(checkRequestTimeout(undefined, 'The requestTimeout option'), DEFAULT_REQUEST_TIMEOUT)
  assert.equal(checkRequestTimeout(0, 'The requestTimeout option'), 0)
  assert.equal(checkRequestTimeout(500, 'The requestTimeout option'), 500)
})

test('a request timeout that is not an integer of at least 0 is refused, naming the option and the value', () => {
  for (const value of [-1, 1.5, Number.NaN, '300']) {
    assert.throws(
      () => checkRequestTimeout(value, 'The requestTimeout option of Thing'),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, ErrorCodes.INVALID_OPTION)
        assert.match(error.message, /^The requestTimeout option of Thing must be an integer/)
        assert.ok(error.message.includes(typeof value === 'string' ? `'${value}'` : String(value)))
        return true
      },
      String(value),
    )
  }
})

test('the server options bound the headers by the request timeout and check at least once a second', () => {
  assert.deepEqual(serverTimeouts(0), {})
  assert.deepEqual(serverTimeouts(500), {
    requestTimeout: 500,
    headersTimeout: 500,
    connectionsCheckingInterval: 500,
  })
  assert.deepEqual(serverTimeouts(120_000), {
    requestTimeout: 120_000,
    headersTimeout: 60_000,
    connectionsCheckingInterval: 1_000,
  })
})

test('bytes that are not HTTP get 400 as a lowercase phrase with a code, logged at warn', async (t) => {
  const warnings: Logged[] = []
  const server = await startServer(
    t,
    clientErrorHandler({ requestTimeout: 500, logger: recordingLogger(warnings) }),
  )

  const written = await exchange(server, 'HELLO THERE\r\n\r\n')

  assert.match(written, /^HTTP\/1\.1 400 Bad Request\r\n/)
  assert.match(written, /\r\nconnection: close\r\n/)
  assert.match(written, /\r\nexorelay-error-code: EXORELAY_ERR_PROTOCOL_INVALID_MESSAGE\r\n/)
  assert.match(written, /\r\n\r\nthe request is not valid HTTP$/)
  assert.deepEqual(
    warnings.map((warning) => warning.message),
    ['request refused: the request is not valid HTTP'],
  )
  assert.deepEqual(warnings[0]?.bindings, {
    status: 400,
    code: ErrorCodes.INVALID_MESSAGE,
    reason: 'HPE_INVALID_METHOD',
  })
})

test('with sentence set, headers over the limit get 431 as a sentence', async (t) => {
  const warnings: Logged[] = []
  const server = await startServer(
    t,
    clientErrorHandler({ requestTimeout: 500, logger: recordingLogger(warnings), sentence: true }),
  )

  const written = await exchange(
    server,
    `GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nx-big: ${'x'.repeat(20_000)}\r\n\r\n`,
  )

  assert.match(
    written,
    /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n[\s\S]*\r\n\r\nThe request headers are larger than the limit\.$/,
  )
  assert.deepEqual(
    warnings.map((warning) => warning.message),
    ['request refused: The request headers are larger than the limit.'],
  )
})

test('closing cuts the connections once the request timeout passes while the close still waits', async () => {
  let cut = 0
  let unblock!: () => void
  const blocked = new Promise<void>((resolve) => {
    unblock = resolve
  })
  const server = {
    closeAllConnections() {
      cut++
      unblock()
    },
  }

  await closeCuttingStalled(server, 50, () => blocked)

  assert.equal(cut, 1)
})

test('a close that finishes by itself leaves no timer behind, and a failed close rejects', async () => {
  let cut = 0
  const server = {
    closeAllConnections() {
      cut++
    },
  }
  const timers = (): number =>
    process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length
  const before = timers()

  await closeCuttingStalled(server, 60_000, async () => {})
  await assert.rejects(
    closeCuttingStalled(server, 60_000, async () => {
      throw new Error('close failed')
    }),
    /close failed/,
  )

  assert.equal(timers(), before)
  assert.equal(cut, 0)
})
