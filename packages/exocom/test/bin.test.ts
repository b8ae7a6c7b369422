import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { constants } from 'node:fs'
import { access, copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

// The committed bin file that npm links at `npm ci`; it runs the built CLI in dist/.
const packageDir = fileURLToPath(new URL('..', import.meta.url))
const binFile = join(packageDir, 'bin', 'exocom.js')

/** Runs a bin file with plain node, as npm's link does, and collects its output. */
async function runBin(
  file: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => {
    stdout += chunk
  })
  child.stderr.on('data', (chunk) => {
    stderr += chunk
  })
  const [code] = (await once(child, 'close')) as [number | null]
  return { code, stdout, stderr }
}

test('the package bin is the committed, executable bin/exocom.js, and it ships', async () => {
  const manifest = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as {
    bin: Record<string, string>
    files: string[]
  }

  assert.deepEqual(manifest.bin, { exocom: './bin/exocom.js' })
  assert.ok(manifest.files.includes('bin'))
  await access(binFile, constants.X_OK)
  assert.match(await readFile(binFile, 'utf8'), /^#!\/usr\/bin\/env node\n/)
})

test('bin/exocom.js --help runs the built CLI: the usage on stdout, exit 0', async () => {
  const { code, stdout, stderr } = await runBin(binFile, ['--help'])

  assert.equal(stderr, '')
  assert.equal(code, 0)
  assert.match(stdout, /^Usage: exocom \[options\]/)
  assert.match(stdout, /--services <file>/)
})

test('without a build, the bin says to run npm run build and exits 1, without a stack', async (t) => {
  // A copy of the package layout with bin/ but no dist/, as in a fresh clone.
  const dir = await mkdtemp(join(tmpdir(), 'exocom-bin-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await mkdir(join(dir, 'bin'))
  await copyFile(binFile, join(dir, 'bin', 'exocom.js'))

  const { code, stdout, stderr } = await runBin(join(dir, 'bin', 'exocom.js'), ['--help'])

  assert.equal(code, 1)
  assert.equal(stdout, '')
  assert.equal(
    stderr,
    `exocom: the CLI is not built yet (${join(dir, 'dist', 'cli.js')} is missing). Run \`npm run build\` first.\n`,
  )
})
