import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { withDeadline } from './helpers.js'

const packageDir = fileURLToPath(new URL('..', import.meta.url))

/**
 * Runs the CLI from source; no TTY, so it logs JSON lines. PORT, EXOCOM_TOKEN and
 * EXOCOM_CREDENTIALS are unset unless given, so the flags decide.
 */
function startCli(args: string[], extraEnv: Record<string, string> = {}): ChildProcess {
  const {
    PORT: _port,
    EXOCOM_TOKEN: _token,
    EXOCOM_CREDENTIALS: _credentials,
    ...env
  } = process.env
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: packageDir,
    env: { ...env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

async function run(
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = startCli(args, extraEnv)
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk) => {
    stdout += chunk
  })
  child.stderr?.on('data', (chunk) => {
    stderr += chunk
  })
  const [code] = (await once(child, 'close')) as [number | null]
  return { code, stdout, stderr }
}

// Starting the CLI through tsx takes a few seconds on a slow CI machine.
const CLI_TIMEOUT = 30_000

/**
 * Resolves with the first JSON log line whose message starts with `prefix`; rejects naming
 * the lines seen when none comes within `timeout` ms.
 */
async function waitForLog(
  child: ChildProcess,
  prefix: string,
  timeout = CLI_TIMEOUT,
): Promise<Record<string, unknown>> {
  const seen: string[] = []
  const lines = createInterface({ input: child.stdout! })
  const found = (async () => {
    for await (const line of lines) {
      seen.push(line)
      const entry = JSON.parse(line) as Record<string, unknown>
      if (typeof entry.msg === 'string' && entry.msg.startsWith(prefix)) return entry
    }
    throw new Error(`the CLI ended without logging '${prefix}'; it logged: ${seen.join(' ')}`)
  })()
  try {
    return await withDeadline(
      found,
      timeout,
      () => `waitForLog: the CLI logged no '${prefix}' (it logged: ${seen.join(' ') || 'nothing'})`,
    )
  } finally {
    // A timed-out wait leaves no reader behind on the child's stdout.
    lines.close()
  }
}

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

/** Starts the CLI, waits until it is online, and stops it after the test; all stdout is kept. */
async function startOnline(
  t: { after(fn: () => unknown): void },
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<{ url: string; output: () => string; stop: () => Promise<void> }> {
  const child = startCli(['--port', '0', ...args], extraEnv)
  let output = ''
  const lines = createInterface({ input: child.stdout! })
  let resolveUrl: (url: string) => void = () => {}
  const online = new Promise<string>((resolve) => {
    resolveUrl = resolve
  })
  lines.on('line', (line) => {
    output += `${line}\n`
    const entry = JSON.parse(line) as { msg?: string; url?: string }
    if (entry.msg?.startsWith('ExoCom online at')) resolveUrl(entry.url as string)
  })
  child.stderr?.on('data', (chunk) => {
    output += chunk
  })
  const exited = once(child, 'close')
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const url = await withDeadline(
    online,
    CLI_TIMEOUT,
    () => `startOnline: the CLI logged no 'ExoCom online at' (output: ${output || 'none'})`,
  )
  return {
    url,
    output: () => output,
    stop: async () => {
      child.kill('SIGTERM')
      await exited
    },
  }
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

const CLI_CREDENTIALS = {
  operator: 'cli-operator-token',
  services: { users: 'cli-users-token', web: 'cli-web-token' },
}

for (const source of ['--credentials', 'EXOCOM_CREDENTIALS'] as const) {
  test(`exocom takes a credentials file from ${source}: identity mode, and no token is logged`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'exocom-cli-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const file = join(dir, 'credentials.json')
    await writeFile(file, JSON.stringify(CLI_CREDENTIALS))
    const bus =
      source === '--credentials'
        ? await startOnline(t, ['--credentials', file])
        : await startOnline(t, [], { EXOCOM_CREDENTIALS: file })

    const asOperator = await fetch(`${bus.url}/config.json`, {
      headers: { authorization: 'Bearer cli-operator-token' },
    })
    const asService = await fetch(`${bus.url}/config.json`, {
      headers: { authorization: 'Bearer cli-web-token' },
    })
    const without = await fetch(`${bus.url}/config.json`)
    await bus.stop()

    assert.equal(asOperator.status, 200)
    assert.equal(asService.status, 403)
    assert.equal(asService.headers.get('exorelay-error-code'), 'EXORELAY_ERR_AUTH_FORBIDDEN')
    assert.equal(without.status, 401)
    assert.match(bus.output(), /"auth":"credentials"/)
    assert.ok(!/cli-\w+-token/.test(bus.output()), 'a token leaked')
  })
}

test('a missing, unreadable or invalid credentials file exits 1 with a sentence naming the file and the problem', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'exocom-cli-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const notJson = join(dir, 'not-json.json')
  await writeFile(notJson, '{"services": {"users": "cli-users-token"')
  const shared = join(dir, 'shared.json')
  await writeFile(shared, JSON.stringify({ services: { users: 'cli-same', web: 'cli-same' } }))

  const missing = await run(['--port', '0', '--credentials', join(dir, 'missing.json')])
  const broken = await run(['--port', '0', '--credentials', notJson])
  const twice = await run(['--port', '0'], { EXOCOM_CREDENTIALS: shared })

  assert.equal(missing.code, 1)
  assert.match(
    missing.stderr,
    /^exocom: cannot load the credentials file '.*missing\.json': it does not exist\./,
  )
  assert.equal(broken.code, 1)
  assert.match(broken.stderr, /credentials file '.*not-json\.json': it is not valid JSON\./)
  assert.ok(!broken.stderr.includes('cli-users-token'))
  assert.equal(twice.code, 1)
  assert.match(
    twice.stderr,
    /The file gives the service 'users' and the service 'web' the same token/,
  )
  assert.ok(!twice.stderr.includes('cli-same'))
})

test('the shared token and a credentials file together exit 1 naming both and the fix', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'exocom-cli-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'credentials.json')
  await writeFile(file, JSON.stringify(CLI_CREDENTIALS))

  const both = await run(['--port', '0', '--credentials', file], {
    EXOCOM_TOKEN: 'cli-shared-token',
  })

  assert.equal(both.code, 1)
  assert.match(both.stderr, /token and credentials options cannot both be set/)
  assert.match(both.stderr, /--credentials or EXOCOM_CREDENTIALS/)
})
