import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { parse } from 'yaml'
import { readApplicationFile } from '../src/application-file.js'
import { asyncApiDocument } from '../src/asyncapi.js'
import { asyncapiCommand } from '../src/asyncapi-command.js'
import { ExoServiceError, ExoServiceErrorCodes } from '../src/errors.js'
import { type LandscapeContracts, loadLandscapeContracts } from '../src/landscape-contracts.js'
import { assertValidAsyncApi, sampleLandscape } from './asyncapi-helpers.js'

// The command in this process, with the loader given (the one that reads service.yml files
// and imports contracts is tested with it), and its usage through the bin.

const BIN = fileURLToPath(new URL('../bin/exoservice.js', import.meta.url))

/** Runs the command; resolves with its exit code, what it wrote, and the files it was asked for. */
async function run(
  args: string[],
  load: (file: string) => Promise<LandscapeContracts> = async () => sampleLandscape(),
) {
  const stdout: string[] = []
  const stderr: string[] = []
  const asked: string[] = []
  const code = await asyncapiCommand(
    args,
    (file) => {
      asked.push(file)
      return load(file)
    },
    {
      stdout: { write: (text: string) => stdout.push(text) },
      stderr: { write: (text: string) => stderr.push(text) },
    },
  )
  return { code, stdout: stdout.join(''), stderr: stderr.join(''), asked }
}

async function temporaryFolder(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'exoservice-asyncapi-'))
  t.after(() => rm(folder, { recursive: true, force: true }))
  return folder
}

test('without --output it prints the document as YAML on stdout, from application.yml by default', async () => {
  const { code, stdout, stderr, asked } = await run([])
  assert.equal(code, 0)
  assert.equal(stderr, '')
  assert.deepEqual(asked, ['application.yml'])
  assert.deepEqual(parse(stdout), asyncApiDocument(sampleLandscape()))
  await assertValidAsyncApi(stdout)
})

test('it reads the application file it is given', async () => {
  const { code, asked } = await run(['apps/shop.yml'])
  assert.equal(code, 0)
  assert.deepEqual(asked, ['apps/shop.yml'])
})

const fromYaml = (text: string): unknown => parse(text)
const fromJson = (text: string): unknown => JSON.parse(text)
for (const [extension, read] of [
  ['.yaml', fromYaml],
  ['.yml', fromYaml],
  ['.json', fromJson],
] as const) {
  test(`--output <file>${extension} writes ${extension === '.json' ? 'JSON' : 'YAML'}`, async (t) => {
    const file = join(await temporaryFolder(t), `asyncapi${extension}`)
    const { code, stdout, stderr } = await run(['--output', file])
    assert.equal(code, 0, stderr)
    assert.equal(stdout, `exoservice asyncapi: wrote ${file} (7 channels, 8 operations)\n`)
    const text = await readFile(file, 'utf8')
    assert.deepEqual(read(text), asyncApiDocument(sampleLandscape()))
    await assertValidAsyncApi(text)
  })
}

test('the YAML has no anchors or aliases, and the same landscape writes the same bytes', async () => {
  const first = await run([])
  const second = await run([])
  assert.equal(first.stdout, second.stdout)
  // Both operations of users.create share the reply's shape; each is written out in full.
  assert.doesNotMatch(first.stdout, /[&*]\w/)
})

test('an --output that is neither .yaml, .yml nor .json is wrong usage, and nothing is read', async () => {
  const { code, stderr, asked } = await run(['-o', 'asyncapi.txt'])
  assert.equal(code, 2)
  assert.match(
    stderr,
    /^exoservice asyncapi: --output must end in \.yaml, \.yml or \.json .*'asyncapi\.txt'\.\n\nUsage:/,
  )
  assert.deepEqual(asked, [])
})

test('an unknown flag or two files are wrong usage', async () => {
  for (const args of [['--strict'], ['a.yml', 'b.yml'], ['--output']]) {
    const { code, stderr, asked } = await run(args)
    assert.equal(code, 2, args.join(' '))
    assert.match(stderr, /^exoservice asyncapi: .+\n\nUsage: exoservice asyncapi/)
    assert.deepEqual(asked, [])
  }
})

test("the loader's ExoServiceError is one line on stderr and exit 1", async () => {
  const { code, stdout, stderr } = await run([], async () => {
    throw new ExoServiceError(
      ExoServiceErrorCodes.APPLICATION_FILE,
      'application.yml: no such file. Create one.',
    )
  })
  assert.equal(code, 1)
  assert.equal(stdout, '')
  assert.equal(stderr, 'exoservice asyncapi: application.yml: no such file. Create one.\n')
})

test('an --output in a folder that does not exist fails with exit 1 and the fix', async (t) => {
  const file = join(await temporaryFolder(t), 'missing', 'asyncapi.yaml')
  const { code, stderr } = await run(['--output', file])
  assert.equal(code, 1)
  assert.match(
    stderr,
    /^exoservice asyncapi: cannot write .*asyncapi\.yaml \(.*\)\. Check that its folder exists/,
  )
})

test('exoservice asyncapi --help prints the usage on stdout and exits 0', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'asyncapi', '--help'], {
    timeout: 20_000,
  })
  assert.match(stdout, /^Usage: exoservice asyncapi \[file\] \[options\]/)
  assert.match(stdout, /-o, --output <file>/)
})

test('exoservice --help lists the asyncapi command', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [BIN, '--help'], {
    timeout: 20_000,
  })
  assert.match(
    stdout,
    /^ {2}asyncapi \[file\] +write the landscape's messages as an AsyncAPI 3\.0 document$/m,
  )
})

test('exoservice asyncapi with a bad flag exits 2 with the usage on stderr', async () => {
  const failed = await promisify(execFile)(process.execPath, [BIN, 'asyncapi', '--nope'], {
    timeout: 20_000,
  }).then(
    () => assert.fail('it exits 0'),
    (error: { code: number; stderr: string }) => error,
  )
  assert.equal(failed.code, 2)
  assert.match(failed.stderr, /^exoservice asyncapi: .*'--nope'.*\n\nUsage: exoservice asyncapi/)
})

test('contracts that disagree between services are a warning on stderr naming the messages; the document is written anyway', async () => {
  const disagree = fileURLToPath(
    new URL('fixtures/check/disagree/application.yml', import.meta.url),
  )
  const { code, stdout, stderr } = await run([disagree], async (file) =>
    loadLandscapeContracts(await readApplicationFile(file)),
  )
  assert.equal(code, 0)
  assert.match(
    stderr,
    /^exoservice asyncapi: warning: the contracts of 'users\.create' disagree between services; the document takes each from its first receiver's contract\. Run exoservice check to see where\.\n$/,
  )
  await assertValidAsyncApi(stdout)
})
