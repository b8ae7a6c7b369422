import assert from 'node:assert/strict'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import type { RunCommand } from '../src/commands.js'
import {
  NodeRuntimeError,
  newestVersion,
  nodeRuntime,
  registryPackage,
} from '../src/node-runtimes.js'

const current = Number(process.versions.node.split('.')[0])
// A major that is not the running one, so that the runtime comes from the cache or the registry.
const other = current === 98 ? 99 : 98

function cacheDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'exorelay-node-cache-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function cachedNode(dir: string, version: string): void {
  mkdirSync(join(dir, version, 'bin'), { recursive: true })
  writeFileSync(join(dir, version, 'bin', 'node'), '#!/bin/sh\n')
  chmodSync(join(dir, version, 'bin', 'node'), 0o755)
}

test('npm view prints one version or a list: the newest is the highest', () => {
  assert.equal(newestVersion('"22.23.5"'), '22.23.5')
  assert.equal(newestVersion('["22.23.3", "22.23.5"]'), '22.23.5')
  assert.equal(newestVersion('[]'), undefined)
  assert.equal(newestVersion('["22.10.0", "22.9.0"]'), '22.10.0', 'by number, not by order')
})

test('the running major is the running Node: nothing is fetched', async () => {
  const run: RunCommand = async () => assert.fail('nothing should run')
  const runtime = await nodeRuntime(current, { run })
  assert.deepEqual(runtime, { version: process.versions.node, binDir: dirname(process.execPath) })
})

test('a version already in the cache is used without fetching it again', async (t) => {
  const dir = cacheDir(t)
  cachedNode(dir, `${other}.1.0`)
  const ran: string[] = []
  const run: RunCommand = async (command, args) => {
    ran.push([command, ...args].join(' '))
    return { code: 0, output: JSON.stringify([`${other}.0.0`, `${other}.1.0`]) }
  }
  const runtime = await nodeRuntime(other, { cacheDir: dir, run })
  assert.deepEqual(runtime, { version: `${other}.1.0`, binDir: join(dir, `${other}.1.0`, 'bin') })
  assert.deepEqual(ran, [`npm view ${registryPackage()}@${other} version --json`])
})

test('offline, the newest cached version of the major is used', async (t) => {
  const dir = cacheDir(t)
  cachedNode(dir, `${other}.2.0`)
  cachedNode(dir, `${other}.10.0`)
  const run: RunCommand = async () => ({ code: 1, output: 'npm error code ENOTFOUND' })
  const runtime = await nodeRuntime(other, { cacheDir: dir, run })
  assert.equal(runtime.version, `${other}.10.0`)
})

test('offline with nothing cached: one line that says what to check', async (t) => {
  const dir = cacheDir(t)
  const run: RunCommand = async () => ({
    code: 1,
    output: 'npm error code ENOTFOUND\nnpm error network down',
  })
  await assert.rejects(nodeRuntime(other, { cacheDir: dir, run }), (error: Error) => {
    assert.ok(error instanceof NodeRuntimeError)
    assert.match(
      error.message,
      new RegExp(`Node ${other} is not cached in .*\\(npm error network down\\)`),
    )
    assert.match(error.message, /EXORELAY_TEST_NODES=current/)
    assert.doesNotMatch(error.message, /\n/)
    return true
  })
})

test('a failed download leaves nothing half-unpacked in the cache', async (t) => {
  const dir = cacheDir(t)
  const run: RunCommand = async (_command, args) =>
    args[0] === 'view'
      ? { code: 0, output: `"${other}.3.0"` }
      : { code: 1, output: 'npm error 404 Not Found' }
  await assert.rejects(
    nodeRuntime(other, { cacheDir: dir, run }),
    /Fetching Node .*failed: npm error 404 Not Found/,
  )
  assert.deepEqual(readdirSync(dir), [])
  assert.equal(existsSync(join(dir, `${other}.3.0`)), false)
})
