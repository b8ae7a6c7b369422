// The scenarios of the original ExoCom (0.12, the HTTP generation), run against the `exocom`
// command the way its orchestrator ran the original: the process is started, its output is
// read (the start line is the only sign that it is up), and the services are plain HTTP
// servers that record what the bus delivers. They pin what an existing installation relies on.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import { type AddressInfo, createServer as createTcpServer } from 'node:net'
import { createInterface } from 'node:readline'
import { describe, type TestContext, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { freePort } from '@exorelay/testing'
import { withDeadline } from './helpers.js'

// The committed bin that npm links as `exocom`; it runs the built CLI (turbo builds before
// the tests run).
const binFile = fileURLToPath(new URL('../bin/exocom.js', import.meta.url))

// Starting node on a slow CI machine takes a few seconds; a delivery on 127.0.0.1 far less.
const START_TIMEOUT = 30_000
const DELIVERY_TIMEOUT = 10_000
const EXIT_TIMEOUT = 10_000

/** A running `exocom` process and what it printed so far. */
interface ExoComProcess {
  readonly child: ChildProcess
  /** Every line printed on stdout so far. */
  readonly lines: string[]
  /** Everything printed on stderr so far. */
  stderr(): string
  /** Resolves with the first stdout line that `matches`; rejects naming `what` otherwise. */
  waitForLine(what: string, matches: (line: string) => boolean, timeout?: number): Promise<string>
  /** Resolves with the exit code once the process has ended. */
  readonly exited: Promise<number | null>
}

/**
 * Starts `exocom` with `args`, as npm's link runs it: plain node on the bin file, no TTY, so it
 * logs JSON lines. PORT and EXOCOM_TOKEN are unset unless given. Killed after the test.
 */
function runExoCom(
  t: TestContext,
  args: string[],
  extraEnv: Record<string, string> = {},
): ExoComProcess {
  const { PORT: _port, EXOCOM_TOKEN: _token, ...env } = process.env
  const child = spawn(process.execPath, [binFile, ...args], {
    env: { ...env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  let stderr = ''
  let ended = false
  const waiters = new Set<{ matches: (line: string) => boolean; resolve: (line: string) => void }>()
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line)
    for (const waiter of waiters) {
      if (!waiter.matches(line)) continue
      waiters.delete(waiter)
      waiter.resolve(line)
    }
  })
  child.stderr!.on('data', (chunk) => {
    stderr += chunk
  })
  const exited = once(child, 'close').then(([code]) => {
    ended = true
    return code as number | null
  })
  const printed = () => `stdout: ${lines.join('\n') || 'nothing'}; stderr: ${stderr || 'nothing'}`

  t.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    try {
      await withDeadline(exited, EXIT_TIMEOUT, () => 'exocom did not end on SIGTERM')
    } catch {
      child.kill('SIGKILL')
      await exited
    }
  })

  return {
    child,
    lines,
    stderr: () => stderr,
    waitForLine(what, matches, timeout = DELIVERY_TIMEOUT) {
      const seen = lines.find(matches)
      if (seen !== undefined) return Promise.resolve(seen)
      const found = new Promise<string>((resolve, reject) => {
        const waiter = { matches, resolve }
        waiters.add(waiter)
        void exited.then((code) => {
          if (!waiters.delete(waiter)) return
          reject(
            new Error(`exocom ended (exit code ${code}) before printing ${what}; ${printed()}`),
          )
        })
      })
      return withDeadline(found, timeout, () => {
        const state = ended ? 'ended' : 'still running'
        return `exocom (${state}) did not print ${what} (${printed()})`
      })
    },
    exited,
  }
}

/** The `msg` of a JSON log line, or undefined for a line that is not one. */
function messageOf(line: string): string | undefined {
  try {
    const entry = JSON.parse(line) as { msg?: unknown }
    return typeof entry.msg === 'string' ? entry.msg : undefined
  } catch {
    return undefined
  }
}

/** A running bus: where it listens, as read from its start line. */
interface Bus extends ExoComProcess {
  readonly port: number
  readonly url: string
  readonly startLine: string
  /** Resolves once the bus has logged exactly `message` (a console line of a delivery). */
  waitForLog(message: string): Promise<void>
}

/**
 * Starts `exocom` and waits for `online at port <N>`, the text the original's orchestrator
 * waited for; the port is read from that text, as the orchestrator did.
 */
async function startBus(
  t: TestContext,
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<Bus> {
  const exocom = runExoCom(t, args, extraEnv)
  const startLine = await exocom.waitForLine(
    "the start line 'online at port <N>'",
    (line) => /online at port \d+/.test(line),
    START_TIMEOUT,
  )
  const port = Number(/online at port (\d+)/.exec(startLine)![1])
  return {
    ...exocom,
    port,
    url: `http://127.0.0.1:${port}`,
    startLine,
    async waitForLog(message) {
      await exocom.waitForLine(`the log line '${message}'`, (line) => messageOf(line) === message)
    },
  }
}

interface RecordedRequest {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: unknown
}

/** A service as the original's scenarios had them: a plain HTTP server that records. */
interface Service {
  readonly name: string
  readonly port: number
  readonly requests: RecordedRequest[]
  /** Resolves once `count` requests came in; rejects saying what came when they do not. */
  waitForRequests(count: number): Promise<RecordedRequest[]>
}

/** Starts a recording service on 127.0.0.1, port 0, answering 200 to everything; closed after the test. */
async function startService(t: TestContext, name: string): Promise<Service> {
  const requests: RecordedRequest[] = []
  const waiters = new Set<{ count: number; resolve: () => void }>()
  const server = createServer((request, response) => {
    let text = ''
    request.setEncoding('utf8')
    request.on('data', (chunk: string) => {
      text += chunk
    })
    request.on('end', () => {
      let body: unknown = text
      try {
        body = text === '' ? undefined : JSON.parse(text)
      } catch {
        // Kept as text: a test comparing bodies then shows what came.
      }
      requests.push({
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body,
      })
      response.writeHead(200).end()
      for (const waiter of waiters) {
        if (requests.length < waiter.count) continue
        waiters.delete(waiter)
        waiter.resolve()
      }
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(async () => {
    // The bus keeps its connections alive: cut them, or close() would wait for them.
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  return {
    name,
    port: (server.address() as AddressInfo).port,
    requests,
    async waitForRequests(count) {
      if (requests.length < count) {
        await withDeadline(
          new Promise<void>((resolve) => waiters.add({ count, resolve })),
          DELIVERY_TIMEOUT,
          () => {
            const got = requests.map((r) => `${r.method} ${r.url}`).join(', ') || 'none'
            return `service '${name}' got ${requests.length} of ${count} request(s) (${got})`
          },
        )
      }
      return [...requests]
    },
  }
}

/** A routing-table entry for `service`, in the shape the orchestrator posted. */
function entryOf(
  service: Service,
  fields: { internalNamespace?: string; sends: string[]; receives: string[] },
): Record<string, unknown> {
  return { name: service.name, host: '127.0.0.1', port: service.port, ...fields }
}

/** Posts JSON to the bus and reads the whole answer. */
async function post(
  bus: Bus,
  path: string,
  body: unknown,
): Promise<{ status: number; text: string }> {
  const response = await fetch(`${bus.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
  })
  return { status: response.status, text: await response.text() }
}

/** Sets the routing table, as the orchestrator did, and checks the bus took it. */
async function configure(bus: Bus, services: Record<string, unknown>[]): Promise<void> {
  const answer = await post(bus, '/services', services)
  assert.equal(answer.status, 200, `POST /services was refused: ${answer.text}`)
}

/** A message as a relay sends it: `POST /send/<name>`, answered 200 once dispatched. */
async function sendMessage(bus: Bus, name: string, body: Record<string, unknown>): Promise<void> {
  const answer = await post(bus, `/send/${encodeURIComponent(name)}`, body)
  assert.equal(answer.status, 200, `POST /send/${name} was refused: ${answer.text}`)
}

/** Checks one delivery: `POST /run/<name>` with JSON, and exactly the body the relay expects. */
function assertDelivered(request: RecordedRequest | undefined, name: string, body: unknown): void {
  assert.ok(request, `no request for ${name}`)
  assert.equal(`${request.method} ${request.url}`, `POST /run/${name}`)
  assert.match(request.headers['content-type'] ?? '', /^application\/json/)
  assert.deepEqual(request.body, body)
}

describe('starting', () => {
  test("prints 'online at port <N>' once it is up, N being the port it listens on", async (t) => {
    // The original's scenario runs it on its default port 3100; a test cannot count on that
    // port being free, so the port comes from PORT, which stands in for the default.
    const port = await freePort()

    const bus = await startBus(t, [], { PORT: String(port) })

    assert.equal(bus.port, port)
    assert.equal(
      messageOf(bus.startLine),
      `ExoCom online at port ${port} (http://127.0.0.1:${port})`,
    )
    assert.equal((await fetch(`${bus.url}/config.json`)).status, 200)
  })

  test('--port sets the port it listens on, and the start line names it', async (t) => {
    const port = await freePort()

    const bus = await startBus(t, ['--port', String(port)])

    assert.equal(bus.port, port)
    assert.match(bus.startLine, new RegExp(`online at port ${port}\\b`))
    assert.equal((await fetch(`http://127.0.0.1:${port}/config.json`)).status, 200)
  })

  test("a port in use ends it with exit code 1 and 'port <N> is already in use'", async (t) => {
    const holder = createTcpServer()
    holder.listen(0, '127.0.0.1')
    await once(holder, 'listening')
    t.after(() => new Promise((resolve) => holder.close(resolve)))
    const port = (holder.address() as AddressInfo).port

    const exocom = runExoCom(t, ['--port', String(port)])
    const code = await withDeadline(
      exocom.exited,
      START_TIMEOUT,
      () => `exocom did not exit on port ${port} in use (stderr: ${exocom.stderr() || 'nothing'})`,
    )

    assert.equal(code, 1)
    assert.match(exocom.stderr(), new RegExp(`port ${port} is already in use`))
    // Still the helpful text: what it tried, and what to do about it.
    assert.match(exocom.stderr(), new RegExp(`cannot listen on port ${port} of '127\\.0\\.0\\.1'`))
    assert.match(exocom.stderr(), /--port/)
    assert.match(exocom.stderr(), /EXORELAY_ERR_LISTEN_ADDRESS_IN_USE/)
    assert.doesNotMatch(exocom.stderr(), /\n\s+at /, 'a stack was printed')
    assert.ok(!exocom.lines.some((line) => line.includes('online at port')), 'it said it is online')
  })
})

describe('configuring services', () => {
  test('POST /services sets the routing table that GET /config.json reports', async (t) => {
    const bus = await startBus(t, ['--port', '0'])
    const one = await startService(t, 'service 1')
    const two = await startService(t, 'service 2')

    await configure(bus, [
      entryOf(one, { internalNamespace: 'foo', sends: ['message-1'], receives: ['message-2'] }),
      entryOf(two, { internalNamespace: 'bar', sends: ['message-2'], receives: ['message-1'] }),
    ])
    const answer = await fetch(`${bus.url}/config.json`)
    const config = (await answer.json()) as {
      services: Record<string, Record<string, unknown>>
      routes: Record<string, { receivers: Record<string, unknown>[] }>
    }

    assert.equal(answer.status, 200)
    // The fields the original reported; the bus may report more of its own (`batches`).
    const known = ({ name, internalNamespace, host, port }: Record<string, unknown>) => ({
      name,
      internalNamespace,
      host,
      port,
    })
    const serviceOne = {
      name: 'service 1',
      internalNamespace: 'foo',
      host: '127.0.0.1',
      port: one.port,
    }
    const serviceTwo = {
      name: 'service 2',
      internalNamespace: 'bar',
      host: '127.0.0.1',
      port: two.port,
    }
    assert.deepEqual(Object.keys(config.services), ['service 1', 'service 2'])
    assert.deepEqual(known(config.services['service 1']!), serviceOne)
    assert.deepEqual(known(config.services['service 2']!), serviceTwo)
    assert.deepEqual(Object.keys(config.routes).sort(), ['message-1', 'message-2'])
    assert.deepEqual(config.routes['message-1']!.receivers.map(known), [serviceTwo])
    assert.deepEqual(config.routes['message-2']!.receivers.map(known), [serviceOne])
  })
})

describe('broadcasting', () => {
  test('a message reaches every service that receives it as POST /run/<name>, and is logged', async (t) => {
    const bus = await startBus(t, ['--port', '0'])
    const web = await startService(t, 'web')
    const users = await startService(t, 'users')
    const audit = await startService(t, 'audit')
    await configure(bus, [
      entryOf(web, { sends: ['users.create'], receives: ['users.created'] }),
      entryOf(users, { sends: ['users.created'], receives: ['users.create'] }),
      entryOf(audit, { sends: [], receives: ['users.create'] }),
    ])

    await sendMessage(bus, 'users.create', {
      sender: 'web',
      id: '111',
      payload: { name: 'Will Riker' },
    })
    const [toUsers] = await users.waitForRequests(1)
    const [toAudit] = await audit.waitForRequests(1)
    await bus.waitForLog('web  --[ users.create ]->  users')
    await bus.waitForLog('web  --[ users.create ]->  audit')

    // The id passes through unchanged; `sender` is not forwarded.
    const body = { id: '111', payload: { name: 'Will Riker' } }
    assertDelivered(toUsers, 'users.create', body)
    assertDelivered(toAudit, 'users.create', body)
    assert.equal(users.requests.length, 1)
    assert.equal(audit.requests.length, 1)
    assert.deepEqual(web.requests, [], 'the sender does not receive users.create')
  })

  test('a reply reaches every service that receives its name, with its responseTo', async (t) => {
    const bus = await startBus(t, ['--port', '0'])
    const web = await startService(t, 'web')
    const users = await startService(t, 'users')
    const dashboard = await startService(t, 'dashboard')
    await configure(bus, [
      entryOf(web, { sends: ['users.create'], receives: ['users.created'] }),
      entryOf(users, { sends: ['users.created'], receives: ['users.create'] }),
      entryOf(dashboard, { sends: [], receives: ['users.created'] }),
    ])
    await sendMessage(bus, 'users.create', {
      sender: 'web',
      id: '111',
      payload: { name: 'Will Riker' },
    })
    await users.waitForRequests(1)

    await sendMessage(bus, 'users.created', {
      sender: 'users',
      id: '222',
      responseTo: '111',
      payload: { id: 456, name: 'Will Riker' },
    })
    const [toWeb] = await web.waitForRequests(1)
    const [toDashboard] = await dashboard.waitForRequests(1)
    await bus.waitForLog('users  --[ users.created ]->  web')
    await bus.waitForLog('users  --[ users.created ]->  dashboard')

    const body = { id: '222', responseTo: '111', payload: { id: 456, name: 'Will Riker' } }
    assertDelivered(toWeb, 'users.created', body)
    assertDelivered(toDashboard, 'users.created', body)
    assert.equal(web.requests.length, 1, 'the requester gets the reply once')
    assert.equal(dashboard.requests.length, 1)
    assert.equal(users.requests.length, 1, 'the replier does not receive its own reply')
  })
})

describe('translating', () => {
  /**
   * The orchestrator's table: `tweets` is a text-snippets service, its `sends` and `receives`
   * in its own names (as its service.yml lists them); `web` has no namespace, written `''`.
   */
  async function translatingLandscape(t: TestContext) {
    const bus = await startBus(t, ['--port', '0'])
    const web = await startService(t, 'web')
    const tweets = await startService(t, 'tweets')
    await configure(bus, [
      entryOf(web, {
        internalNamespace: '',
        sends: ['tweets.create'],
        receives: ['tweets.created'],
      }),
      entryOf(tweets, {
        internalNamespace: 'text-snippets',
        sends: ['text-snippet.created'],
        receives: ['text-snippet.create'],
      }),
    ])
    return { bus, web, tweets }
  }

  test('a message to a service with an internal namespace arrives under its internal name', async (t) => {
    const { bus, web, tweets } = await translatingLandscape(t)

    await sendMessage(bus, 'tweets.create', { sender: 'web', id: '111', payload: 'hello' })
    const [toTweets] = await tweets.waitForRequests(1)
    await bus.waitForLog('web  --[ tweets.create ]-[ text-snippets.create ]->  tweets')

    assertDelivered(toTweets, 'text-snippets.create', { id: '111', payload: 'hello' })
    assert.equal(tweets.requests.length, 1)
    assert.deepEqual(web.requests, [])
    // The routes are public names, as the original's config.json showed them.
    const config = (await (await fetch(`${bus.url}/config.json`)).json()) as {
      routes: Record<string, unknown>
    }
    assert.deepEqual(Object.keys(config.routes).sort(), ['tweets.create', 'tweets.created'])
  })

  test('a reply from a service with an internal namespace leaves under its public name', async (t) => {
    const { bus, web, tweets } = await translatingLandscape(t)
    await sendMessage(bus, 'tweets.create', { sender: 'web', id: '111', payload: 'hello' })
    await tweets.waitForRequests(1)

    await sendMessage(bus, 'text-snippets.created', {
      sender: 'tweets',
      id: '222',
      responseTo: '111',
      payload: { id: 7, content: 'hello' },
    })
    const [toWeb] = await web.waitForRequests(1)
    await bus.waitForLog('tweets  --[ text-snippets.created ]-[ tweets.created ]->  web')

    assertDelivered(toWeb, 'tweets.created', {
      id: '222',
      responseTo: '111',
      payload: { id: 7, content: 'hello' },
    })
    assert.equal(web.requests.length, 1, 'the requester gets the reply once')
    assert.equal(tweets.requests.length, 1)
  })
})
