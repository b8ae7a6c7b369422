import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const bin = fileURLToPath(new URL('../bin/exorelay-test-env.js', import.meta.url))

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { timeout: 60_000, env: { ...process.env, ...env } },
      (error, stdout, stderr) => {
        resolve({
          code: error === null ? 0 : typeof error.code === 'number' ? error.code : null,
          stdout,
          stderr,
        })
      },
    )
  })
}

test('--help prints the usage and exits 0', async () => {
  const { code, stdout } = await run(['--help'])
  assert.equal(code, 0)
  assert.match(stdout, /^usage: exorelay-test-env setup/)
})

test('unknown arguments exit 2 with the usage, never a stack', async () => {
  for (const args of [
    [],
    ['install'],
    ['nodes', '22'],
    ['nodes', 'lts', '--', 'true'],
    ['setup', 'extra'],
  ]) {
    const { code, stderr } = await run(args)
    assert.equal(code, 2, args.join(' '))
    assert.match(stderr, /^exorelay-test-env: unknown arguments: /)
    assert.doesNotMatch(stderr, /\n\s+at /)
  }
})

test('nodes runs the command on the running Node and prints the summary', async () => {
  const major = process.versions.node.split('.')[0] ?? ''
  const { code, stdout } = await run(['nodes', major, '--', 'node', '-e', 'process.exit(0)'])
  assert.equal(code, 0)
  assert.match(stdout, new RegExp(`Node ${process.versions.node}: passed in \\d+ s`))
})

test('a bad EXORELAY_TEST_NODES is one line and exit 2', async () => {
  const { code, stderr } = await run(['nodes', '22', '--', 'true'], {
    EXORELAY_TEST_NODES: 'latest',
  })
  assert.equal(code, 2)
  assert.equal(stderr.trim().split('\n').length, 1)
  assert.match(stderr, /'latest' is not a Node major version/)
})
