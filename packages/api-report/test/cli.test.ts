import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const bin = fileURLToPath(new URL('../bin/exorelay-api-report.js', import.meta.url))

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

// The command as a developer runs it: its own process, in `cwd`, with a deadline.
function run(args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null
        resolve({ code, stdout, stderr })
      },
    )
  })
}

// A package folder whose declarations were never built.
async function unbuiltPackage(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'exorelay-api-report-cli-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await mkdir(join(dir, 'src'))
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({
      name: '@fixture/unbuilt',
      type: 'module',
      exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' } },
    }),
  )
  return dir
}

test('--help prints the usage to stdout and exits 0', async (t) => {
  const dir = await unbuiltPackage(t)
  const result = await run(['--help'], dir)
  assert.equal(result.code, 0, result.stderr)
  assert.match(result.stdout, /^usage: exorelay-api-report check\|update/)
  assert.equal(result.stderr, '')
})

test('an unknown command names itself, prints the usage to stderr and exits 2', async (t) => {
  const dir = await unbuiltPackage(t)
  const result = await run(['frobnicate'], dir)
  assert.equal(result.code, 2)
  assert.match(result.stderr, /unknown command 'frobnicate'/)
  assert.match(result.stderr, /usage: exorelay-api-report/)
  assert.equal(result.stdout, '')
})

test('check before the build says, in one line, which package to build and how', async (t) => {
  const dir = await unbuiltPackage(t)
  for (const command of ['check', 'update']) {
    const result = await run([command], dir)
    assert.equal(result.code, 1)
    assert.equal(
      result.stderr,
      `exorelay-api-report ${command}: the declarations of @fixture/unbuilt (dist/index.d.ts) do not exist: build the package first, at the repository root: npx turbo run build --filter=@fixture/unbuilt\n`,
    )
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace')
  }
})

test('a folder without a package.json is named, without a stack trace', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'exorelay-api-report-cli-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const result = await run(['check'], dir)
  assert.equal(result.code, 1)
  assert.match(result.stderr, /has no package\.json: run the command in a package folder/)
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr)
})

test('a package.json without types for its main entry says what to add', async (t) => {
  const dir = await unbuiltPackage(t)
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: '@fixture/untyped' }))
  const result = await run(['check'], dir)
  assert.equal(result.code, 1)
  assert.match(result.stderr, /names no types for its '\.' entry: give it exports\['\.'\]\.types/)
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr)
})
