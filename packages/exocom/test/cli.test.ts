import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const packageDir = fileURLToPath(new URL('..', import.meta.url))

/** Runs the CLI from source; no TTY, so it logs JSON lines. PORT is unset so --port decides. */
function startCli(args: string[]): ChildProcess {
  const { PORT: _port, ...env } = process.env
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: packageDir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

async function run(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = startCli(args)
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

/** Resolves with the first JSON log line whose message starts with `prefix`. */
async function waitForLog(child: ChildProcess, prefix: string): Promise<Record<string, unknown>> {
  for await (const line of createInterface({ input: child.stdout! })) {
    const entry = JSON.parse(line) as Record<string, unknown>
    if (typeof entry.msg === 'string' && entry.msg.startsWith(prefix)) return entry
  }
  throw new Error(`the CLI ended without logging '${prefix}'`)
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
  assert.equal(online.msg, `ExoCom online at ${url}`)
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)
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
