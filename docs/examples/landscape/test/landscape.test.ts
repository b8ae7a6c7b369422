import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { freePort } from '@exorelay/testing'
import { ErrorCodes, ExoRelay, PayloadInvalidError } from 'exorelay'

const BANNER = 'ExoRelay example landscape is running.'
const landscapeDir = fileURLToPath(new URL('../', import.meta.url))

/** True when the port can be bound on 127.0.0.1, i.e. nothing listens there any more. */
async function isFree(port: number): Promise<boolean> {
  const server = createServer()
  server.listen(port, '127.0.0.1')
  const [event] = await Promise.race([once(server, 'listening'), once(server, 'error')])
  if (event instanceof Error) return false
  server.close()
  await once(server, 'close')
  return true
}

/** The launcher's stdout, line by line, with a way to wait for a line. */
class Output {
  readonly lines: string[] = []
  readonly #waiters = new Set<{
    test: (line: string) => boolean
    resolve: (line: string) => void
  }>()
  #ended = false
  readonly #endWaiters = new Set<(error: Error) => void>()

  constructor(child: ChildProcess) {
    const lines = createInterface({ input: child.stdout! })
    lines.on('line', (line) => {
      this.lines.push(line)
      for (const waiter of this.#waiters) {
        if (waiter.test(line)) {
          this.#waiters.delete(waiter)
          waiter.resolve(line)
        }
      }
    })
    lines.on('close', () => {
      this.#ended = true
      const error = new Error(`The launcher's output ended. It said:\n${this.lines.join('\n')}`)
      for (const reject of this.#endWaiters) reject(error)
    })
  }

  /**
   * Resolves with the first line (seen or to come) that passes `test`; rejects if the output
   * ends first, or naming what the launcher said when no such line comes within `timeout` ms
   * (the launcher starts four services through tsx, which is slow on a 2-core CI machine).
   */
  waitFor(test: (line: string) => boolean, timeout = 30_000): Promise<string> {
    const seen = this.lines.find(test)
    if (seen !== undefined) return Promise.resolve(seen)
    if (this.#ended) return Promise.reject(new Error('The launcher has already exited.'))
    return new Promise((resolve, reject) => {
      const waiter = {
        test,
        resolve: (line: string) => {
          clearTimeout(timer)
          this.#endWaiters.delete(fail)
          resolve(line)
        },
      }
      const fail = (error: Error): void => {
        clearTimeout(timer)
        reject(error)
      }
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter)
        this.#endWaiters.delete(fail)
        reject(
          new Error(
            `waitFor: the launcher printed no line passing ${test} within ${timeout} ms. It said:\n${this.lines.join('\n')}`,
          ),
        )
      }, timeout)
      // Only a guard: it must never keep the test process alive by itself.
      timer.unref()
      this.#waiters.add(waiter)
      this.#endWaiters.add(fail)
    })
  }

  /** The `port` of a service's online line (JSON when the output is not a terminal). */
  onlinePort(service: string): number {
    for (const line of this.lines) {
      const match = /^(\S+)\s+\| (\{.*\})$/.exec(line)
      if (match?.[1] !== service) continue
      const record = JSON.parse(match[2]!) as { msg?: string; port?: number }
      if (record.msg?.startsWith('online at port') && typeof record.port === 'number') {
        return record.port
      }
    }
    throw new Error(`No online line of '${service}' in the output.`)
  }
}

interface User {
  id: string
  name: string
}

function postUser(api: string, body: unknown): Promise<Response> {
  return fetch(`${api}/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

/** Starts the launcher; stops it in `t.after` if the test left it running. */
function startLauncher(
  t: { after: (fn: () => Promise<void>) => void },
  env: Record<string, string>,
) {
  const launcher = spawn(process.execPath, ['--import', 'tsx', 'src/start.ts'], {
    cwd: landscapeDir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = once(launcher, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  const stderr: string[] = []
  launcher.stderr!.on('data', (chunk: Buffer) => {
    stderr.push(chunk.toString())
  })
  t.after(async () => {
    // Only when the test failed half-way: the launcher stops its own children on SIGINT.
    if (launcher.exitCode !== null || launcher.signalCode !== null) return
    launcher.kill('SIGINT')
    const timer = setTimeout(() => launcher.kill('SIGKILL'), 15_000)
    await exited
    clearTimeout(timer)
  })
  return { launcher, exited, output: new Output(launcher), stderr: () => stderr.join('') }
}

test('the landscape starts, serves the users API through the bus, and stops on SIGINT', {
  timeout: 60_000,
}, async (t) => {
  const apiPort = await freePort()
  const busPort = await freePort()
  const { launcher, exited, output, stderr } = startLauncher(t, {
    PORT: String(apiPort),
    EXOCOM_PORT: String(busPort),
  })

  // The contracts are checked before anything starts.
  await output.waitFor((line) => line === 'landscape check: no findings in 3 services')
  await output.waitFor((line) => line === BANNER)
  await output.waitFor((line) => line === `  API:  http://localhost:${apiPort}`)
  const api = `http://127.0.0.1:${apiPort}`

  const riker = await postUser(api, { name: 'Will Riker', password: 'secret' })
  assert.equal(riker.status, 201)
  const rikerUser = (await riker.json()) as User
  assert.deepEqual(Object.keys(rikerUser).sort(), ['id', 'name'])
  assert.equal(rikerUser.name, 'Will Riker')
  assert.equal(typeof rikerUser.id, 'string')

  const troi = await postUser(api, { name: 'Deanna Troi', password: 'imzadi' })
  assert.equal(troi.status, 201)
  const troiUser = (await troi.json()) as User
  assert.notEqual(troiUser.id, rikerUser.id)

  // A sender that checks nothing (web checks the body first): users' contract refuses the
  // payload before its handler runs, as `exoservice run` gives it the contract service.yml names.
  const careless = new ExoRelay({
    serviceName: 'web',
    exocomHost: '127.0.0.1',
    exocomPort: busPort,
    port: 0,
    logger: false,
  })
  await careless.listen()
  try {
    await assert.rejects(careless.send('users.create', { name: 42, password: 'x' }), (error) => {
      assert.ok(error instanceof PayloadInvalidError, String(error))
      assert.equal(error.code, ErrorCodes.PAYLOAD_INVALID)
      assert.equal(error.service, 'users')
      assert.deepEqual(
        error.issues.map(({ path }) => path),
        ['name'],
      )
      return true
    })
  } finally {
    await careless.close()
  }

  const list = await fetch(`${api}/users`)
  assert.equal(list.status, 200)
  assert.deepEqual(await list.json(), [rikerUser, troiUser])

  const nameless = await postUser(api, { name: '', password: 'secret' })
  assert.equal(nameless.status, 422)
  assert.deepEqual(await nameless.json(), {
    error: { code: 'users.not-created', message: 'a name is required' },
  })

  const malformed = await postUser(api, { name: 'Data' })
  assert.equal(malformed.status, 400)

  // The bus's own console lines come through, prefixed with its name.
  await output.waitFor(
    (line) => line.startsWith('exocom') && line.includes('web  --[ users.create ]->  users'),
  )
  await output.waitFor(
    (line) =>
      line.startsWith('exocom') && line.includes('users  --[ passwords.encrypt ]->  passwords'),
  )

  const servicePorts = [output.onlinePort('passwords'), output.onlinePort('users')]
  launcher.kill('SIGINT')
  const [code, signal] = await exited
  assert.equal(signal, null)
  assert.equal(code, 0, `the launcher exited with ${code}; its stderr:\n${stderr()}`)
  for (const port of [apiPort, busPort, ...servicePorts]) {
    assert.equal(await isFree(port), true, `port ${port} is still in use`)
  }
})

test('the landscape reports a service that cannot start, stops the others and exits 1', {
  timeout: 60_000,
}, async (t) => {
  // Something else already has the API port.
  const blocker = createServer()
  blocker.listen(0, '127.0.0.1')
  await once(blocker, 'listening')
  t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())))
  const apiPort = (blocker.address() as { port: number }).port
  const busPort = await freePort()

  const { exited, output, stderr } = startLauncher(t, {
    PORT: String(apiPort),
    EXOCOM_PORT: String(busPort),
  })
  const [code] = await exited
  assert.equal(code, 1)
  assert.match(
    stderr(),
    /web did not start: it exited with code 1 before it printed 'online at port'/,
  )
  assert.match(
    stderr(),
    /EADDRINUSE.*Another program holds the API's port: choose a free one, e\.g\. PORT=8080 npm start/s,
  )
  assert.equal(output.lines.includes(BANNER), false)
  assert.equal(await isFree(busPort), true, 'the bus was not stopped')
})

test('with OTEL_TRACES_EXPORTER=console, POST /users is drawn as one trace across web, users and passwords, and a request that times out at web stops at passwords', {
  timeout: 60_000,
}, async (t) => {
  const apiPort = await freePort()
  const { launcher, exited, output, stderr } = startLauncher(t, {
    PORT: String(apiPort),
    EXOCOM_PORT: String(await freePort()),
    OTEL_TRACES_EXPORTER: 'console',
  })
  await output.waitFor((line) => line === BANNER)
  const api = `http://127.0.0.1:${apiPort}`

  const created = await postUser(api, { name: 'Will Riker', password: 'secret' })
  assert.equal(created.status, 201)
  const root = await output.waitFor((line) => /^trace +\| \S+ +web +POST \/users /.test(line))
  const traceId = /^trace +\| ([0-9a-f]{32}) /.exec(root)?.[1]
  assert.ok(traceId, `no trace id in '${root}'`)
  for (const [service, span] of [
    ['web', 'send users.create'],
    ['users', 'process users.create'],
    ['users', 'send passwords.encrypt'],
    ['passwords', 'process passwords.encrypt'],
  ]) {
    await output.waitFor((line) =>
      new RegExp(`^trace +\\| ${traceId} +${service} +${span} `).test(line),
    )
  }
  assert.equal(
    output.lines.some((line) => line.includes('"span":')),
    false,
    'span lines are drawn, not passed through',
  )

  const slow = await fetch(`${api}/users?timeout=2000`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Slow Sam', password: 'slow' }),
  })
  assert.equal(slow.status, 504)
  const stopped = await output.waitFor(
    (line) => line.startsWith('passwords') && line.includes('passwords.encrypt stopped'),
  )
  assert.match(stopped, /"msg":"passwords\.encrypt stopped: deadline passed"/)

  launcher.kill('SIGINT')
  const [code] = await exited
  assert.equal(code, 0, `the launcher exited with ${code}; its stderr:\n${stderr()}`)
})

test('the landscape runs without traces for a trace exporter it does not have, and says so', {
  timeout: 60_000,
}, async (t) => {
  const { launcher, exited, output, stderr } = startLauncher(t, {
    PORT: String(await freePort()),
    EXOCOM_PORT: String(await freePort()),
    OTEL_TRACES_EXPORTER: 'otlp',
  })
  await output.waitFor((line) => line === BANNER)
  assert.match(stderr(), /OTEL_TRACES_EXPORTER=otlp is ignored: .*OTEL_TRACES_EXPORTER=console/)
  launcher.kill('SIGINT')
  const [code] = await exited
  assert.equal(code, 0, `the launcher exited with ${code}; its stderr:\n${stderr()}`)
})
