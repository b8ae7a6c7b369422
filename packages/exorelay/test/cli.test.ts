import assert from 'node:assert/strict'
import { constants } from 'node:fs'
import { access, readFile } from 'node:fs/promises'
import { describe, test } from 'node:test'
import { startExoCom } from '@exorelay/exocom'
import { deferred, withDeadline } from '@exorelay/testing'
import { bin, closedPort, runCli, startLandscape } from './cli-helpers.js'

// The `exorelay` command as a user runs it: the committed bin against the built CLI, a real
// bus on a free port and real relays as receivers.

describe('exorelay: the command', () => {
  test('the package bin is the committed, executable bin/exorelay.js, and it ships', async () => {
    const manifest = JSON.parse(
      await readFile(new URL('../package.json', import.meta.url), 'utf8'),
    ) as { bin: Record<string, string>; files: string[] }

    assert.deepEqual(manifest.bin, { exorelay: './bin/exorelay.js' })
    assert.ok(manifest.files.includes('bin'))
    await access(bin, constants.X_OK)
    assert.match(await readFile(bin, 'utf8'), /^#!\/usr\/bin\/env node\n/)
  })

  test('--help prints the commands on stdout and exits 0; --version the version', async () => {
    const help = await runCli(['--help'])
    assert.equal(help.code, 0)
    assert.equal(help.stderr, '')
    assert.match(help.stdout, /^Usage: exorelay <command> \[options\]/)
    for (const command of ['send', 'request', 'routes', 'tail']) {
      assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'))
    }

    const { version } = JSON.parse(
      await readFile(new URL('../package.json', import.meta.url), 'utf8'),
    ) as { version: string }
    assert.deepEqual(await runCli(['--version']), { code: 0, stdout: `${version}\n`, stderr: '' })
  })

  test('each command has its --help, on stdout with exit 0', async () => {
    for (const command of ['send', 'request', 'routes', 'tail']) {
      const { code, stdout, stderr } = await runCli([command, '--help'])
      assert.equal(code, 0, command)
      assert.equal(stderr, '', command)
      assert.match(stdout, new RegExp(`^Usage: exorelay ${command} `), command)
      assert.match(stdout, /--port <n>/, command)
    }
  })

  test('no command, or an unknown one, is wrong usage: one line and the usage, exit 2', async () => {
    const none = await runCli([])
    assert.equal(none.code, 2)
    assert.equal(none.stdout, '')
    assert.match(none.stderr, /^Usage: exorelay <command>/)

    const unknown = await runCli(['publish', 'x'])
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /^exorelay: unknown command 'publish'\.\n\nUsage: exorelay /)
  })

  test('without --port or EXOCOM_PORT a command says which to give, exit 2', async () => {
    const { code, stderr } = await runCli(['routes'])
    assert.equal(code, 2)
    assert.match(
      stderr,
      /^exorelay routes: the bus's port is missing: give --port <n> or set EXOCOM_PORT \(e\.g\. EXOCOM_PORT=3100\)\.\n\nUsage: exorelay routes/,
    )
  })

  test('an unknown flag, a bad port or a bad --timeout is wrong usage, exit 2', async () => {
    const flag = await runCli(['send', 'x', '--colour'])
    assert.equal(flag.code, 2)
    assert.match(flag.stderr, /^exorelay send: Unknown option '--colour'/)

    const port = await runCli(['routes', '--port', 'abc'])
    assert.equal(port.code, 2)
    assert.match(port.stderr, /^exorelay routes: .*--port.*'abc'/)

    const timeout = await runCli(['request', 'x', '--port', '1', '--timeout', '0'])
    assert.equal(timeout.code, 2)
    assert.match(
      timeout.stderr,
      /^exorelay request: --timeout must be a positive integer of milliseconds, got '0'\.\n/,
    )
  })
})

describe('exorelay send', () => {
  test('sends the message with its JSON payload and exits 0 once the bus accepted it', async (t) => {
    const { users, busPort } = await startLandscape(t)
    const received = deferred<unknown>()
    users.registerHandler('users.created', (payload) => received.resolve(payload))
    await users.listen()

    const run = await runCli(['send', 'users.created', '{"id": 4}', '--port', busPort])

    assert.deepEqual(run, { code: 0, stdout: '', stderr: '' })
    assert.deepEqual(
      await withDeadline(received.promise, 10_000, () => 'users.created did not arrive'),
      { id: 4 },
    )
  })

  test('reads the payload from stdin for -, and takes the bus from EXOCOM_PORT', async (t) => {
    const { users, busPort } = await startLandscape(t)
    const received = deferred<unknown>()
    users.registerHandler('users.created', (payload) => received.resolve(payload))
    await users.listen()

    const run = await runCli(['send', 'users.created', '-', '--sender', 'web'], {
      env: { EXOCOM_PORT: busPort, EXOCOM_HOST: '127.0.0.1' },
      stdin: '{"id": 5,\n "name": "Will"}\n',
    })

    assert.deepEqual(run, { code: 0, stdout: '', stderr: '' })
    assert.deepEqual(
      await withDeadline(received.promise, 10_000, () => 'users.created did not arrive'),
      { id: 5, name: 'Will' },
    )
  })

  test('bad JSON is wrong usage: one line naming it, the usage, exit 2, nothing sent', async () => {
    const run = await runCli(['send', 'users.created', '{id: 4}', '--port', await closedPort()])
    assert.equal(run.code, 2)
    assert.equal(run.stdout, '')
    const [line, blank, usage] = run.stderr.split('\n')
    assert.match(line!, /^exorelay send: the payload is not valid JSON \(.+\): give JSON such as /)
    assert.equal(blank, '')
    assert.equal(usage, 'Usage: exorelay send <name> [payload-json|-] [options]')

    const empty = await runCli(['send', 'x', '-', '--port', '1'], { stdin: '  \n' })
    assert.equal(empty.code, 2)
    assert.match(empty.stderr, /^exorelay send: the payload on stdin is empty; /)
  })

  test('a missing name or an extra argument is wrong usage, exit 2', async () => {
    const missing = await runCli(['send', '--port', '1'])
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /^exorelay send: name the message, e\.g\. users\.create\.\n/)

    const extra = await runCli(['send', 'x', '{', '}', '--port', '1'])
    assert.equal(extra.code, 2)
    assert.match(extra.stderr, /^exorelay send: one name and one payload at most; /)
  })

  test('a bus that is not there: the relay’s BUS_UNREACHABLE sentence in one line, exit 1', async () => {
    const port = await closedPort()
    const run = await runCli(['send', 'users.created', '--host', '127.0.0.1', '--port', port])

    assert.equal(run.code, 1)
    assert.equal(run.stdout, '')
    assert.match(
      run.stderr,
      new RegExp(
        `^exorelay send: EXORELAY_ERR_TRANSPORT_BUS_UNREACHABLE: ExoCom at http://127\\.0\\.0\\.1:${port} is unreachable: .*Start the bus \\(npx exocom --port ${port}\\).*\\n$`,
      ),
    )
    assert.equal(run.stderr.split('\n').length, 2, 'one line')
  })

  test('a message no service receives: the bus’s NO_RECEIVER in one line, exit 1', async (t) => {
    const { busPort } = await startLandscape(t)
    const run = await runCli(['send', 'nobody.listens', '--port', busPort])

    assert.equal(run.code, 1)
    assert.match(
      run.stderr,
      /^exorelay send: EXORELAY_ERR_TRANSPORT_NO_RECEIVER: .*'nobody\.listens'.*\n$/,
    )
  })
})

describe('exorelay request', () => {
  test('prints the reply’s outcome and payload as one line of JSON, exit 0', async (t) => {
    const { users, busPort } = await startLandscape(t)
    users.registerHandler('users.create', (user: { name: string }, { reply }) => {
      reply('users.created', { id: 456, name: user.name })
    })
    await users.listen()

    const run = await runCli(['request', 'users.create', '{"name": "Will"}', '--port', busPort])

    assert.equal(run.stderr, '')
    assert.equal(run.code, 0)
    assert.equal(run.stdout, '{"outcome":"users.created","payload":{"id":456,"name":"Will"}}\n')
  })

  test('a reply without a payload prints "payload": null', async (t) => {
    const { users, busPort } = await startLandscape(t)
    users.registerHandler('users.ping', (_payload, { reply }) => reply('users.pong'))
    await users.listen()

    const run = await runCli(['request', 'users.ping', '--port', busPort])

    assert.deepEqual(run, {
      code: 0,
      stdout: '{"outcome":"users.pong","payload":null}\n',
      stderr: '',
    })
  })

  test('no reply within --timeout: the timeout in one line, exit 1', async (t) => {
    const { users, busPort } = await startLandscape(t)
    users.registerHandler('users.create', () => {}) // never replies
    await users.listen()

    const run = await runCli([
      'request',
      'users.create',
      '{}',
      '--timeout',
      '300',
      '--port',
      busPort,
    ])

    assert.equal(run.code, 1)
    assert.equal(run.stdout, '')
    assert.match(
      run.stderr,
      /^exorelay request: EXORELAY_ERR_REPLY_TIMEOUT: No reply to 'users\.create' \(id [^)]+\) within 300 ms\. .*\n$/,
    )
  })

  test('no receiver: NO_RECEIVER in one line, exit 1', async (t) => {
    const { busPort } = await startLandscape(t)
    const run = await runCli(['request', 'users.create', '--port', busPort])

    assert.equal(run.code, 1)
    assert.match(run.stderr, /^exorelay request: EXORELAY_ERR_TRANSPORT_NO_RECEIVER: .*\n$/)
  })

  test('the receiver’s error: REMOTE_HANDLER_FAILED with its sentence, exit 1', async (t) => {
    const { users, busPort } = await startLandscape(t)
    users.registerHandler('users.create', () => {
      throw new Error('the name is taken')
    })
    await users.listen()

    const run = await runCli(['request', 'users.create', '{"name": "Will"}', '--port', busPort])

    assert.equal(run.code, 1)
    assert.equal(run.stdout, '')
    assert.match(
      run.stderr,
      /^exorelay request: EXORELAY_ERR_REMOTE_HANDLER_FAILED: .*the name is taken.*\n$/,
    )
  })

  test('a bus that is not there: BUS_UNREACHABLE, exit 1', async () => {
    const port = await closedPort()
    const run = await runCli(['request', 'users.create', '--port', port])

    assert.equal(run.code, 1)
    assert.match(
      run.stderr,
      /^exorelay request: EXORELAY_ERR_TRANSPORT_BUS_UNREACHABLE: ExoCom at .* is unreachable: .*\n$/,
    )
  })

  test('an invalid message name is wrong usage, exit 2', async () => {
    const run = await runCli(['request', '', '--port', await closedPort()])
    assert.equal(run.code, 2)
    assert.match(run.stderr, /^exorelay request: EXORELAY_ERR_ARG_INVALID_NAME: /)
  })
})

describe('exorelay routes', () => {
  test('prints the services and the routes as two tables', async (t) => {
    const { users, busPort } = await startLandscape(t)
    users.registerHandler('users.create', () => {})
    users.registerHandler('users.get', () => {})
    const port = await users.listen()

    const run = await runCli(['routes', '--port', busPort])

    assert.equal(run.stderr, '')
    assert.equal(run.code, 0)
    const address = `127.0.0.1:${port}`
    assert.equal(
      run.stdout,
      [
        'Services',
        `  NAME   ${'ADDRESS'.padEnd(address.length)}  INSTANCES  SOURCE`,
        `  users  ${address}  1          self-registered`,
        '',
        'Routes',
        '  MESSAGE       RECEIVERS',
        '  users.create  users',
        '  users.get     users',
        '',
      ].join('\n'),
    )
  })

  test('an empty bus says so in each table', async (t) => {
    const { busPort } = await startLandscape(t)
    const run = await runCli(['routes', '--port', busPort])
    assert.equal(run.code, 0)
    assert.equal(
      run.stdout,
      'Services\n  (no service is registered)\n\nRoutes\n  (no message has a receiver)\n',
    )
  })

  test('--json prints the bus’s GET /config.json', async (t) => {
    const { bus, users, busPort } = await startLandscape(t)
    users.registerHandler('users.create', () => {})
    await users.listen()

    const run = await runCli(['routes', '--json', '--port', busPort])

    assert.equal(run.code, 0)
    assert.deepEqual(JSON.parse(run.stdout), bus.config())
  })

  test('a bus that is not there: BUS_UNREACHABLE in one line, exit 1', async () => {
    const port = await closedPort()
    const run = await runCli(['routes', '--port', port])
    assert.equal(run.code, 1)
    assert.match(
      run.stderr,
      new RegExp(
        `^exorelay routes: EXORELAY_ERR_TRANSPORT_BUS_UNREACHABLE: ExoCom at http://localhost:${port} is unreachable: `,
      ),
    )
    assert.equal(run.stderr.split('\n').length, 2, 'one line')
  })

  test('a bus with a token: without it UNAUTHORIZED, exit 1; with EXOCOM_TOKEN the tables', async (t) => {
    const bus = await startExoCom({ port: 0, logger: false, token: 'sesame' })
    t.after(() => bus.close())

    const refused = await runCli(['routes', '--port', String(bus.port)])
    assert.equal(refused.code, 1)
    assert.match(
      refused.stderr,
      /^exorelay routes: EXORELAY_ERR_AUTH_UNAUTHORIZED: ExoCom at .* wants a token and none was given \(401\)\. Give the bus's token with EXOCOM_TOKEN/,
    )

    const wrong = await runCli(['routes', '--port', String(bus.port), '--token', 'nope'])
    assert.equal(wrong.code, 1)
    assert.match(wrong.stderr, /refused the token given \(401\)/)
    assert.doesNotMatch(wrong.stderr, /nope|sesame/)

    const allowed = await runCli(['routes', '--port', String(bus.port)], {
      env: { EXOCOM_TOKEN: 'sesame' },
    })
    assert.equal(allowed.code, 0)
    assert.match(allowed.stdout, /^Services\n/)
  })

  test('a request through a bus with a token carries it both ways', async (t) => {
    const bus = await startExoCom({ port: 0, logger: false, token: 'sesame' })
    t.after(() => bus.close())
    const { ExoRelay } = await import('../src/index.js')
    const users = new ExoRelay({
      serviceName: 'users',
      exocomPort: bus.port,
      port: 0,
      logger: false,
      token: 'sesame',
    })
    t.after(() => users.close())
    users.registerHandler('users.ping', (_payload, { reply }) => reply('users.pong', 1))
    await users.listen()

    const run = await runCli(['request', 'users.ping', '--port', String(bus.port)], {
      env: { EXOCOM_TOKEN: 'sesame' },
    })
    assert.deepEqual(run, { code: 0, stdout: '{"outcome":"users.pong","payload":1}\n', stderr: '' })

    const refused = await runCli(['request', 'users.ping', '--port', String(bus.port)])
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /^exorelay request: EXORELAY_ERR_AUTH_UNAUTHORIZED: /)
  })
})
