import assert from 'node:assert/strict'
import { once } from 'node:events'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, type TestContext, test } from 'node:test'
import { ErrorCodes } from '@exorelay/core'
import {
  findNatsServer,
  freePort,
  type NatsServer,
  startNatsCluster,
  startNatsServer,
} from '../src/nats-server.js'

/** Connects to a NATS port and resolves with the server's greeting, `INFO {…}`, parsed. */
async function serverInfo(port: number): Promise<Record<string, unknown>> {
  const socket = connect(port, '127.0.0.1')
  try {
    socket.setEncoding('utf8')
    let greeting = ''
    while (!greeting.includes('\r\n')) {
      const [chunk] = (await once(socket, 'data')) as [string]
      greeting += chunk
    }
    const line = greeting.slice(0, greeting.indexOf('\r\n'))
    assert.match(line, /^INFO \{/)
    return JSON.parse(line.slice('INFO '.length)) as Record<string, unknown>
  } finally {
    socket.destroy()
  }
}

/** Resolves with the error a connection to `port` fails with, or `undefined` if it connects. */
async function connectError(port: number): Promise<NodeJS.ErrnoException | undefined> {
  const socket = connect(port, '127.0.0.1')
  try {
    const [outcome] = await Promise.race([once(socket, 'connect'), once(socket, 'error')])
    return outcome as NodeJS.ErrnoException | undefined
  } catch (error) {
    return error as NodeJS.ErrnoException
  } finally {
    socket.destroy()
  }
}

function stopAfter(t: TestContext, ...servers: NatsServer[]): void {
  t.after(() => Promise.all(servers.map((server) => server.stop())))
}

describe('freePort', () => {
  test('resolves with a loopback port that a server can then listen on', async (t) => {
    const port = await freePort()
    const server = createServer()
    server.listen(port, '127.0.0.1')
    await once(server, 'listening')
    t.after(() => server.close())
    assert.equal((server.address() as { port: number }).port, port)
  })
})

describe('startNatsServer', () => {
  test('finds nats-server and starts it on a free loopback port that speaks NATS', async (t) => {
    const nats = await startNatsServer()
    stopAfter(t, nats)

    assert.match(findNatsServer() ?? '', /\/nats-server$/)
    assert.equal(nats.url, `nats://127.0.0.1:${nats.port}`)
    assert.equal(nats.running, true)
    assert.equal(typeof nats.pid, 'number')
    const info = await serverInfo(nats.port)
    assert.equal(info.port, nats.port)
  })

  test('stop kills the server and frees its port; a second stop does nothing', async (t) => {
    const nats = await startNatsServer()
    stopAfter(t, nats)

    await nats.stop()
    await nats.stop()

    assert.equal(nats.running, false)
    assert.equal(nats.pid, undefined)
    assert.equal((await connectError(nats.port))?.code, 'ECONNREFUSED')
  })

  test('restart brings the server back on the same port, as a new process', async (t) => {
    const nats = await startNatsServer()
    stopAfter(t, nats)
    const firstPid = nats.pid

    await nats.stop()
    await nats.restart()

    assert.equal(nats.running, true)
    assert.notEqual(nats.pid, firstPid)
    assert.equal((await serverInfo(nats.port)).port, nats.port)
  })

  test('extra arguments reach nats-server: --auth makes it require a token', async (t) => {
    const open = await startNatsServer()
    const guarded = await startNatsServer({ args: ['--auth', 's3cret'] })
    stopAfter(t, open, guarded)

    assert.notEqual((await serverInfo(open.port)).auth_required, true)
    assert.equal((await serverInfo(guarded.port)).auth_required, true)
  })

  test('waitForOutput resolves on a line already printed, and rejects with TIMEOUT naming the pattern when none comes', async (t) => {
    const nats = await startNatsServer()
    stopAfter(t, nats)

    await nats.waitForOutput(/Server is ready/, { timeout: 50 })
    await assert.rejects(
      nats.waitForOutput(/no such line/, { timeout: 50 }),
      (error: Error & { code?: string; timeout?: number }) => {
        assert.equal(error.code, ErrorCodes.TIMEOUT)
        assert.equal(error.timeout, 50)
        assert.match(
          error.message,
          /^waitForOutput: nats-server on port \d+ printed nothing matching \/no such line\/ within 50 ms; last output: .*Server is ready/s,
        )
        return true
      },
    )
  })

  test('a server that exits while starting rejects with LISTEN_FAILED and its output', async () => {
    await assert.rejects(
      startNatsServer({ args: ['--no-such-flag'] }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, ErrorCodes.LISTEN_FAILED)
        assert.match(error.message, /exited \(code \d+\) before it was ready/)
        assert.match(error.message, /no-such-flag/)
        return true
      },
    )
  })
})

describe('startNatsCluster', () => {
  test('starts nodes that each route to the others under one cluster name', async (t) => {
    const nodes = await startNatsCluster(2)
    stopAfter(t, ...nodes)

    assert.equal(nodes.length, 2)
    assert.notEqual(nodes[0]!.port, nodes[1]!.port)
    for (const node of nodes) {
      assert.equal((await serverInfo(node.port)).cluster, 'exorelay-test')
    }
  })
})

describe('startNatsServer without a working nats-server', () => {
  test('a binary that cannot be run rejects with LISTEN_FAILED naming it', async () => {
    await assert.rejects(
      startNatsServer({ binary: '/nonexistent/nats-server' }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, ErrorCodes.LISTEN_FAILED)
        assert.match(error.message, /'\/nonexistent\/nats-server'/)
        return true
      },
    )
  })

  test('a server that never says it is ready rejects with TIMEOUT after readyTimeout, and is killed', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'exorelay-nats-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const silent = join(dir, 'silent-server')
    const pidFile = join(dir, 'pid')
    // Records its pid, then stays up without a word, whatever its arguments.
    writeFileSync(silent, `#!/bin/sh\necho $$ > '${pidFile}'\nexec sleep 60\n`)
    chmodSync(silent, 0o755)

    await assert.rejects(
      startNatsServer({ binary: silent, readyTimeout: 200 }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, ErrorCodes.TIMEOUT)
        assert.match(error.message, /not ready within 200 ms/)
        return true
      },
    )
    // No pid file: it was killed (and waited for) before its first line ran.
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8'))
      assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' })
    }
  })
})
