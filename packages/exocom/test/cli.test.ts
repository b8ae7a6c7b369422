import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { type AddressInfo, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { CLI_TIMEOUT, packageDir, run, startCli, startOnline, waitForLog } from './cli-helpers.js'
import { withDeadline } from './helpers.js'

test('exocom loads the services file, serves it on /config.json and exits 0 on SIGTERM', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'exocom-cli-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const servicesFile = join(dir, 'services.json')
  await writeFile(
    servicesFile,
    JSON.stringify([
      { name: 'users', host: '127.0.0.1', port: 4001, receives: ['users.create'] },
      { name: 'web', host: '127.0.0.1', port: 4000, receives: ['users.created'] },
    ]),
  )
  const child = startCli(['--port', '0', '--services', servicesFile])
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })

  const online = await waitForLog(child, 'ExoCom online at')
  assert.equal(online.level, 30)
  const url = online.url as string
  assert.equal(online.msg, `ExoCom online at port ${online.port} (${url})`)
  assert.equal(url, `http://127.0.0.1:${online.port}`)
  const config = (await (await fetch(`${url}/config.json`)).json()) as {
    services: Record<string, unknown>
    routes: Record<string, unknown>
  }
  assert.deepEqual(Object.keys(config.services), ['users', 'web'])
  assert.deepEqual(Object.keys(config.routes), ['users.create', 'users.created'])

  child.kill('SIGTERM')
  const [code, signal] = await exited
  assert.equal(signal, null)
  assert.equal(code, 0)
})

test('exocom --help prints the usage and exits 0', async () => {
  const { code, stdout } = await run(['--help'])

  assert.equal(code, 0)
  assert.match(stdout, /^Usage: exocom/)
  assert.match(stdout, /--services <file>/)
})

test('exocom --version prints the package version and exits 0', async () => {
  const { version } = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as {
    version: string
  }

  const { code, stdout } = await run(['--version'])

  assert.equal(code, 0)
  assert.equal(stdout.trim(), version)
})

test('an unknown flag exits 2 with the usage on stderr', async () => {
  const { code, stdout, stderr } = await run(['--bogus'])

  assert.equal(code, 2)
  assert.match(stderr, /--bogus/)
  assert.match(stderr, /Usage: exocom/)
  assert.equal(stdout, '')
})

test('a port that is not a number exits 2', async () => {
  const { code, stderr } = await run(['--port', 'zonk'])

  assert.equal(code, 2)
  assert.match(stderr, /'zonk'/)
})

test('a busy port exits 1 with one line: the cause, its code and how to choose another port', async (t) => {
  const holder = createServer()
  holder.listen(0, '127.0.0.1')
  await once(holder, 'listening')
  t.after(() => holder.close())
  const { port } = holder.address() as AddressInfo

  const { code, stderr } = await run(['--port', String(port), '--host', '127.0.0.1'])

  assert.equal(code, 1)
  const lines = stderr.trim().split('\n')
  assert.equal(lines.length, 1, stderr)
  assert.match(
    lines[0] ?? '',
    new RegExp(
      `${port}.*\\(EXORELAY_ERR_LISTEN_ADDRESS_IN_USE\\) Choose another port with --port <n> \\(or env PORT\\), or --port 0 for any free one\\.$`,
    ),
  )
})

test('a missing or invalid services file exits 1 with a clear message', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'exocom-cli-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const invalid = join(dir, 'invalid.json')
  await writeFile(
    invalid,
    JSON.stringify([{ name: 'users', host: '127.0.0.1', port: 'x', receives: [] }]),
  )

  const missing = await run(['--port', '0', '--services', join(dir, 'missing.json')])
  const bad = await run(['--port', '0', '--services', invalid])

  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /cannot load the services file '.*missing\.json'/)
  assert.equal(bad.code, 1)
  assert.match(bad.stderr, /Service entry 0 \('users'\) needs a 'port'/)
})

for (const messages of [0, 20]) {
  test(`exocom whose output reader went away (exocom | head -1) exits 0 on SIGTERM, after ${messages} log lines`, async (t) => {
    const child = startCli(['--port', '0'])
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    })
    const online = await waitForLog(child, 'ExoCom online at')

    // As `head -1` does: read one line, then close the pipe, so every later write fails (EPIPE).
    child.stdout!.destroy()
    // Log lines after that: one warning per message nobody receives. With none, the first
    // failing write is the close's own log line, just before the process exits.
    for (let i = 0; i < messages; i++) {
      const answer = await fetch(`${online.url as string}/send/nobody`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sender: 'web', id: `m-${i}` }),
      })
      assert.equal(answer.status, 404)
    }
    child.kill('SIGTERM')
    const [code, signal] = await withDeadline(
      exited,
      CLI_TIMEOUT,
      () => 'exocom did not exit on SIGTERM after its stdout was closed',
    )

    assert.equal(signal, null)
    assert.equal(code, 0)
  })
}

for (const [source, args, env] of [
  ['--token', ['--token', 'cli-s3cret-token'], {}],
  ['EXOCOM_TOKEN', [], { EXOCOM_TOKEN: 'cli-s3cret-token' }],
] as const) {
  test(`exocom takes the shared secret from ${source}, requires it, and never logs it`, async (t) => {
    const bus = await startOnline(t, [...args], { ...env })

    const without = await fetch(`${bus.url}/config.json`)
    const wrong = await fetch(`${bus.url}/config.json`, {
      headers: { authorization: 'Bearer cli-s3cret-tokem' },
    })
    const right = await fetch(`${bus.url}/config.json`, {
      headers: { authorization: 'Bearer cli-s3cret-token' },
    })
    const status = await fetch(`${bus.url}/status`)
    await bus.stop()

    assert.equal(without.status, 401)
    assert.equal(without.headers.get('exorelay-error-code'), 'EXORELAY_ERR_AUTH_UNAUTHORIZED')
    assert.equal(wrong.status, 401)
    assert.equal(right.status, 200)
    assert.equal(status.status, 200)
    assert.match(bus.output(), /request refused: missing or invalid token/)
    assert.ok(!bus.output().includes('cli-s3cret-token'), 'the token leaked')
  })
}

test('--token wins over EXOCOM_TOKEN', async (t) => {
  const bus = await startOnline(t, ['--token', 'from-the-flag'], { EXOCOM_TOKEN: 'from-the-env' })

  const flag = await fetch(`${bus.url}/config.json`, {
    headers: { authorization: 'Bearer from-the-flag' },
  })
  const env = await fetch(`${bus.url}/config.json`, {
    headers: { authorization: 'Bearer from-the-env' },
  })
  await bus.stop()

  assert.equal(flag.status, 200)
  assert.equal(env.status, 401)
})

test('an empty EXOCOM_TOKEN leaves the bus open', async (t) => {
  const bus = await startOnline(t, [], { EXOCOM_TOKEN: '' })

  const config = await fetch(`${bus.url}/config.json`)
  await bus.stop()

  assert.equal(config.status, 200)
})

test('a token with spaces exits 2 naming its source, without echoing it', async () => {
  const flag = await run(['--port', '0', '--token', 'has a space'])
  const env = await run(['--port', '0'], { EXOCOM_TOKEN: 'also has spaces' })

  assert.equal(flag.code, 2)
  assert.match(flag.stderr, /^exocom: --token: The token must be/)
  assert.ok(!flag.stderr.includes('has a space'))
  assert.equal(env.code, 2)
  assert.match(env.stderr, /^exocom: the EXOCOM_TOKEN environment variable: The token must be/)
  assert.ok(!env.stderr.includes('also has spaces'))
})

test('exocom serves the dev page on its loopback host, and --no-ui turns it off', async (t) => {
  const withPage = await startOnline(t, [])
  assert.equal((await fetch(`${withPage.url}/`)).status, 200)
  const without = await startOnline(t, ['--no-ui'])
  assert.equal((await fetch(`${without.url}/`)).status, 404)
})

test('--ui with --no-ui exits 2', async () => {
  const { code, stderr } = await run(['--ui', '--no-ui'])

  assert.equal(code, 2)
  assert.match(stderr, /--ui and --no-ui cannot both be given/)
})
