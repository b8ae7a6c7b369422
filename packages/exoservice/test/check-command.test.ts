import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { runExoservice } from './run-helpers.js'

// `exoservice check` as users run it: the bin, through dist (turbo builds before it tests).

/** The application file of a landscape under test/fixtures/check/. */
function fixture(name: string): string {
  return fileURLToPath(new URL(`fixtures/check/${name}/application.yml`, import.meta.url))
}

test('--help prints the usage and exits 0; wrong usage exits 2 with the usage', async () => {
  const help = await runExoservice(['check', '--help'])
  assert.equal(help.code, 0)
  assert.match(help.stdout, /^Usage: exoservice check \[file\] \[options\]/)
  for (const args of [['--what'], ['a.yml', 'b.yml'], ['--strict=yes']]) {
    const wrong = await runExoservice(['check', ...args])
    assert.equal(wrong.code, 2, args.join(' '))
    assert.match(wrong.stderr, /^exoservice check: /)
    assert.match(wrong.stderr, /Usage: exoservice check \[file\] \[options\]/)
  }
})

test('findings are printed one a line, with a summary; exit 0, or 1 with --strict', async () => {
  const found = await runExoservice(['check', fixture('disagree')])
  assert.equal(found.code, 0, found.stderr)
  const lines = found.stdout.split('\n')
  assert.equal(lines.length, 6)
  assert.match(lines[0]!, /^users\.create {2}web → users {2}schema-mismatch: payload differs /)
  assert.equal(lines.at(-1), '5 findings in 2 services')
  assert.equal(found.stderr, '')

  const strict = await runExoservice(['check', fixture('disagree'), '--strict'])
  assert.equal(strict.code, 1)
  assert.equal(strict.stdout, found.stdout)
})

test('no findings: exit 0, also with --strict', async () => {
  const clean = await runExoservice(['check', fixture('agree'), '--strict'])
  assert.equal(clean.code, 0, clean.stderr)
  assert.equal(clean.stdout, 'no findings in 3 services')
})

test('--json prints the file, the number of services and the findings', async () => {
  const json = await runExoservice(['check', fixture('disagree'), '--json'])
  assert.equal(json.code, 0, json.stderr)
  const result = JSON.parse(json.stdout) as {
    file: string
    services: number
    findings: { code: string; messageName: string; services: string[]; text: string }[]
  }
  assert.equal(result.file, fixture('disagree'))
  assert.equal(result.services, 2)
  assert.deepEqual(result.findings.at(-1), {
    code: 'no-receiver',
    messageName: 'users.list',
    services: ['web'],
    text: 'web sends it, but no service receives it',
  })
})

test('a contract module that exports no contract: one line on stderr, exit 1', async () => {
  const failed = await runExoservice(['check', fixture('no-contract')])
  assert.equal(failed.code, 1)
  assert.equal(failed.stdout, '')
  assert.match(
    failed.stderr,
    /^exoservice check: \S+contract\.ts: \S+service\.yml names it as the contract, but its `contract` export is an object with messages, not made by defineContract\. .*\n$/,
  )
})
