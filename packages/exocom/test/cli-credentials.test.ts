import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { run, startOnline } from './cli-helpers.js'

// The exocom command in identity mode: its credentials file (decision 0018).

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

  const misspelt = join(dir, 'misspelt.json')
  await writeFile(misspelt, JSON.stringify({ operater: 'cli-op-token', services: {} }))

  const missing = await run(['--port', '0', '--credentials', join(dir, 'missing.json')])
  const directory = await run(['--port', '0', '--credentials', dir])
  const unknownKey = await run(['--port', '0', '--credentials', misspelt])
  const broken = await run(['--port', '0', '--credentials', notJson])
  const twice = await run(['--port', '0'], { EXOCOM_CREDENTIALS: shared })

  assert.equal(missing.code, 1)
  assert.match(
    missing.stderr,
    /^exocom: cannot load the credentials file '.*missing\.json': it does not exist\./,
  )
  assert.equal(directory.code, 1)
  assert.match(
    directory.stderr,
    /credentials file '.*': it is a directory, not a file\. It must be JSON of the shape/,
  )
  assert.ok(!directory.stderr.includes('EISDIR'), directory.stderr)
  assert.equal(unknownKey.code, 1)
  assert.match(unknownKey.stderr, /The file has the key 'operater', which ExoCom does not know/)
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

test('--registration-addresses without credentials exits 1 with a sentence', async () => {
  const alone = await run(['--port', '0', '--registration-addresses', 'any'])

  assert.equal(alone.code, 1)
  assert.match(
    alone.stderr,
    /The registrationAddresses option \(--registration-addresses\) is a setting of identity mode/,
  )
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
