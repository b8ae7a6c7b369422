import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { freePort, MockExoCom, withDeadline } from '@exorelay/testing'
import { isFree } from './ports.js'
import { CLI_TIMEOUT, fixture, runExoservice, startExoservice } from './run-helpers.js'

async function mockBus(t: { after(fn: () => unknown): void }): Promise<MockExoCom> {
  const exocom = new MockExoCom()
  await exocom.listen()
  t.after(() => exocom.close())
  return exocom
}

async function tempDir(t: { after(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'exoservice-run-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** A service folder in a temporary directory with this service.yml and src/server.js. */
async function serviceFolder(
  t: { after(fn: () => unknown): void },
  serviceYml: string | undefined,
  server = "export default { 'users.create': () => {} }",
): Promise<string> {
  const dir = await tempDir(t)
  if (serviceYml !== undefined) await writeFile(join(dir, 'service.yml'), serviceYml)
  await mkdir(join(dir, 'src'))
  await writeFile(join(dir, 'src', 'server.js'), server)
  return dir
}

/** Runs `exoservice run <folder>` that must fail: exit 1, one line on stderr, no stack. */
async function runFails(
  folder: string,
  env: Record<string, string> = {},
  args: string[] = [],
): Promise<string> {
  const { code, stderr } = await runExoservice(['run', folder, ...args], {
    EXOCOM_PORT: '1',
    ...env,
  })
  assert.equal(code, 1, stderr)
  assert.match(stderr, /^exoservice run: /)
  assert.equal(stderr.trim().split('\n').length, 1, `one line: ${stderr}`)
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack')
  return stderr
}

test('exoservice run --help prints the usage and exits 0; wrong usage exits 2', async () => {
  const help = await runExoservice(['run', '--help'])
  assert.equal(help.code, 0)
  assert.match(help.stdout, /^Usage: exoservice run \[folder\] \[options\]/)
  assert.match(help.stdout, /--startup-timeout <ms>/)
  assert.match(help.stdout, /exits at once, with 130 \(SIGINT\) or 143 \(SIGTERM\)/)

  const unknown = await runExoservice(['run', '--port', '3'])
  assert.equal(unknown.code, 2)
  assert.match(unknown.stderr, /^exoservice run: Unknown option '--port'/)
  const two = await runExoservice(['run', 'a', 'b'])
  assert.equal(two.code, 2)
  assert.match(two.stderr, /^exoservice run: takes one folder, got 2\./)
  const timeout = await runExoservice(['run', '--startup-timeout', 'soon'])
  assert.equal(timeout.code, 2)
  assert.match(
    timeout.stderr,
    /--startup-timeout must be a positive whole number of milliseconds, got 'soon'/,
  )
})

test('exoservice --version prints the package version', async () => {
  const { code, stdout } = await runExoservice(['--version'])
  const manifest = JSON.parse(
    await readFile(new URL('../package.json', import.meta.url), 'utf8'),
  ) as { version: string }
  assert.equal(code, 0)
  assert.equal(stdout.trim(), manifest.version)
})

test('service.yml missing, not YAML, without messages, with an invalid or a duplicate name: exit 1 with file and line', async (t) => {
  const missing = await serviceFolder(t, undefined)
  assert.match(
    await runFails(missing),
    new RegExp(`${join(missing, 'service.yml')}: no such file\\. .*exoservice new`),
  )
  const notYaml = await serviceFolder(t, 'type: users\nmessages: [receives: {\n')
  assert.match(await runFails(notYaml), /service\.yml:\d+: is not valid YAML: /)
  const noMessages = await serviceFolder(t, 'type: users\n')
  assert.match(await runFails(noMessages), /service\.yml: has no `messages`: add /)
  const invalid = await serviceFolder(
    t,
    'type: users\nmessages:\n  receives:\n    - users.create\n    - users create\n',
  )
  assert.match(
    await runFails(invalid),
    /service\.yml:5: messages\.receives\[1\] "users create" is not a valid message name/,
  )
  const duplicate = await serviceFolder(
    t,
    'type: users\nmessages:\n  receives: [users.create]\n  sends: [users.created, users.created]\n',
  )
  assert.match(
    await runFails(duplicate),
    /service\.yml:4: messages\.sends lists 'users\.created' twice/,
  )
  const reserved = await serviceFolder(t, 'type: users\nmessages:\n  receives: [beforeAll]\n')
  assert.match(
    await runFails(reserved),
    /service\.yml:3: messages\.receives\[0\] 'beforeAll' is reserved/,
  )
})

test('a contract module that exports no contract: exit 1 naming the module and the fix', async (t) => {
  const folder = await serviceFolder(
    t,
    'type: users\nmessages:\n  receives: [users.create]\n  contract: src/contract.js\n',
  )
  await writeFile(join(folder, 'package.json'), '{ "type": "module" }\n')
  await writeFile(join(folder, 'src', 'contract.js'), 'export default { messages: {} }\n')
  assert.match(
    await runFails(folder),
    /src\/contract\.js: \S+service\.yml names it as the contract, but its default export is an object with messages, not made by defineContract\. Export one as `export const contract = defineContract\(\{ \.\.\. \}\)`/,
  )
})

test('a handler module that cannot be used: exit 1 naming the module and what is wrong', async () => {
  const cases: [string, RegExp][] = [
    [
      'no-module',
      /no handler module: tried .*src\/server\.ts, .*src\/server\.js\. Create src\/server\.ts/,
    ],
    ['server-missing', /`server: lib\/handlers\.js` names a module that does not exist/],
    ['throws-on-load', /server\.js: the module threw while loading: DATABASE_URL is not set\./],
    ['no-default', /server\.js: has no default export\./],
    ['not-a-map', /server\.js: its default export must be the handler map, .*got 'users\.create'/],
    ['non-function', /server\.js: the handler for 'users\.create' must be a function/],
    ['hook-not-function', /server\.js: 'beforeAll' must be a function \(the lifecycle hook\)/],
    ['missing-handlers', /server\.js: no handler for 'users\.create', 'users\.delete'/],
  ]
  for (const [name, message] of cases) {
    assert.match(await runFails(fixture(name)), message, name)
  }
})

test('a beforeAll that rejects: exit 1 with its message, the port it would use is not listening', async () => {
  const port = await freePort()
  const stderr = await runFails(fixture('before-all-rejects'), { EXORELAY_PORT: String(port) })
  assert.match(stderr, /beforeAll failed: cannot connect to the database\./)
  assert.equal(await isFree(port), true)
})

test('a beforeAll that hangs past --startup-timeout: exit 1 although it keeps the process busy', async () => {
  const port = await freePort()
  const stderr = await runFails(fixture('before-all-hangs'), { EXORELAY_PORT: String(port) }, [
    '--startup-timeout',
    '200',
  ])
  assert.match(stderr, /beforeAll did not finish within the startup timeout of 200 ms/)
  assert.equal(await isFree(port), true)
})

test('a TypeScript service runs; SIGTERM lets the in-flight request finish, runs afterAll, exits 0', async (t) => {
  const exocom = await mockBus(t)
  const dir = await tempDir(t)
  const lifecycle = join(dir, 'lifecycle.txt')
  const service = startExoservice(['run', fixture('users-ts')], {
    EXOCOM_PORT: String(exocom.port),
    EXORELAY_PORT: '0',
    LIFECYCLE_FILE: lifecycle,
  })
  t.after(() => service.child.kill('SIGKILL'))
  const online = await service.waitForLog(/^online at port \d+$/)
  assert.equal(typeof online.port, 'number')
  assert.equal(online.service, 'users')

  const registered = await exocom.waitForService('users', { timeout: CLI_TIMEOUT })
  await exocom.send({ service: 'users', name: 'users.slow' })
  const request = await exocom.waitForMessage('clock.now', { timeout: CLI_TIMEOUT })
  service.child.kill('SIGTERM')
  await service.waitForLog(/^closing/)
  exocom.registerService(registered)
  await exocom.send({ service: 'users', name: 'clock.told', responseTo: request.id, payload: 7 })
  const slowed = await exocom.waitForMessage('users.slowed', { timeout: CLI_TIMEOUT })
  assert.equal(slowed.payload, 7)

  const { code } = await withDeadline(service.exited, CLI_TIMEOUT, () => 'exoservice did not exit')
  assert.equal(code, 0, service.stderr())
  assert.equal(await readFile(lifecycle, 'utf8'), 'beforeAll\nafterAll\n')
  assert.equal(await isFree(online.port as number), true)
})

test('a JavaScript service runs, warns about an undeclared handler, and SIGINT exits 0', async (t) => {
  const exocom = await mockBus(t)
  const service = startExoservice(['run', fixture('users-js')], {
    EXOCOM_PORT: String(exocom.port),
    EXORELAY_PORT: '0',
  })
  t.after(() => service.child.kill('SIGKILL'))
  const warning = await service.waitForLog(/'users\.extra' is not declared/)
  assert.equal(warning.level, 40)
  await service.waitForLog(/^online at port \d+$/)
  await exocom.waitForService('users', { timeout: CLI_TIMEOUT })
  await exocom.send({ service: 'users', name: 'users.create', payload: { name: 'Cy' } })
  const created = await exocom.waitForMessage('users.created', { timeout: CLI_TIMEOUT })
  assert.deepEqual(created.payload, { id: 2, name: 'Cy' })

  service.child.kill('SIGINT')
  const { code } = await withDeadline(service.exited, CLI_TIMEOUT, () => 'exoservice did not exit')
  assert.equal(code, 0, service.stderr())
})

test('a second signal while the service closes exits at once with 128 + the signal number', async (t) => {
  const exocom = await mockBus(t)
  const service = startExoservice(['run', fixture('users-ts')], {
    EXOCOM_PORT: String(exocom.port),
    EXORELAY_PORT: '0',
  })
  t.after(() => service.child.kill('SIGKILL'))
  await service.waitForLog(/^online at port \d+$/)
  await exocom.waitForService('users', { timeout: CLI_TIMEOUT })
  // A handler waits for a reply that never comes, so the close waits for it.
  await exocom.send({ service: 'users', name: 'users.slow' })
  await exocom.waitForMessage('clock.now', { timeout: CLI_TIMEOUT })
  service.child.kill('SIGINT')
  await service.waitForLog(/^closing/)
  service.child.kill('SIGTERM')

  const { code } = await withDeadline(service.exited, CLI_TIMEOUT, () => 'exoservice did not exit')
  assert.equal(code, 143)
  assert.match(service.stderr(), /exoservice run: SIGTERM again, exiting without waiting\./)
  assert.equal(
    service.lines.some((line) => line.includes('afterAll ran')),
    false,
    'afterAll did not run',
  )
})

test('SIGINT while beforeAll runs stops the start: beforeAll sees its signal abort, exit 0, nothing listens', async (t) => {
  const port = await freePort()
  const service = startExoservice(['run', fixture('before-all-waits')], {
    EXOCOM_PORT: '1',
    EXORELAY_PORT: String(port),
  })
  t.after(() => service.child.kill('SIGKILL'))
  await service.waitForLog(/^beforeAll started$/)
  service.child.kill('SIGINT')
  const { code } = await withDeadline(service.exited, CLI_TIMEOUT, () => 'it did not exit')
  assert.equal(code, 0, service.stderr())
  assert.ok(
    service.lines.some((line) => line.includes('"msg":"beforeAll aborted"')),
    service.lines.join('\n'),
  )
  assert.equal(
    service.lines.some((line) => line.includes('online at port')),
    false,
  )
  assert.equal(await isFree(port), true)
})
