import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { ERROR_CODE_HEADER } from '@exorelay/http-protocol'
import { Pool } from 'undici'

// Clients that send what a well-behaved relay never would, for tests of how a relay or the
// bus answers bad input: bodies exactly as given, connections that stall or speak no HTTP.

/** A server's answer: the status, the error-code header (if any), and the body as text. */
export interface RawAnswer {
  status: number
  /** The `exorelay-error-code` header, `undefined` when the answer has none. */
  code: string | undefined
  text: string
}

/** An HTTP client that posts bodies as they are, see {@link rawHttpClient}. */
export interface RawHttpClient {
  /**
   * Posts `body` unchanged to `path` and resolves with the answer, whatever its status.
   * `contentType` defaults to `'application/json'`; `null` sends no content type.
   */
  post(path: string, body: string, contentType?: string | null): Promise<RawAnswer>
  /** Closes the client's connections. */
  close(): Promise<void>
}

/** A raw TCP connection, see {@link openRawConnection}. */
export interface RawConnection {
  readonly socket: Socket
  /** Resolves with everything the server wrote, once the connection has closed. */
  readonly closed: Promise<string>
}

/**
 * A client for `origin` (e.g. `http://127.0.0.1:3100`) that posts bodies exactly as given,
 * malformed ones included. Its connections are not limited, so concurrent posts really
 * arrive at once.
 *
 * @example
 * ```ts
 * const client = rawHttpClient(exocom.url)
 * t.after(() => client.close())
 * const answer = await client.post('/send/users.create', '{"id":', 'application/json')
 * assert.equal(answer.status, 400)
 * assert.equal(answer.code, ErrorCodes.INVALID_MESSAGE)
 * ```
 */
export function rawHttpClient(origin: string): RawHttpClient {
  const pool = new Pool(origin)
  return {
    async post(path, body, contentType = 'application/json') {
      const headers: Record<string, string> = {}
      if (contentType !== null) headers['content-type'] = contentType
      const response = await pool.request({ method: 'POST', path, headers, body })
      const code = response.headers[ERROR_CODE_HEADER]
      return {
        status: response.statusCode,
        code: typeof code === 'string' ? code : undefined,
        text: await response.body.text(),
      }
    },
    close: () => pool.close(),
  }
}

/**
 * Opens a TCP connection to `port` on 127.0.0.1 (or `host`) and collects what the server
 * writes until it closes. Write to `socket` whatever the test needs: half a request,
 * headers without an end, bytes that are not HTTP. When `signal` aborts (pass the test's
 * `t.signal`), the connection is destroyed, so a server waiting for it cannot hang the test.
 *
 * @example
 * ```ts
 * const connection = await openRawConnection(port, { signal: t.signal })
 * connection.socket.write('HELLO THERE\r\n\r\n')
 * assert.match(await connection.closed, /^HTTP\/1\.1 400 Bad Request\r\n/)
 * ```
 */
export async function openRawConnection(
  port: number,
  options: { host?: string; signal?: AbortSignal } = {},
): Promise<RawConnection> {
  const socket = connect(port, options.host ?? '127.0.0.1')
  options.signal?.addEventListener('abort', () => socket.destroy(), { once: true })
  socket.setEncoding('utf8')
  let written = ''
  socket.on('data', (chunk: string) => {
    written += chunk
  })
  const closed = once(socket, 'close').then(() => written)
  await once(socket, 'connect')
  return { socket, closed }
}

/**
 * Resolves once an HTTP server in this process has read the headers of a request that came
 * over `socket` (Node's `http.server.request.start` channel): the request is then in flight,
 * e.g. a stalled body is being waited for. Call it before writing the request.
 */
export function requestStarted(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const onStart = (message: unknown): void => {
      const serverSide = (message as { socket: Socket }).socket
      if (serverSide.remotePort !== socket.localPort) return
      unsubscribe('http.server.request.start', onStart)
      resolve()
    }
    subscribe('http.server.request.start', onStart)
  })
}
