import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type ExoCom, startExoCom } from '@exorelay/exocom'
import { type NatsServer, startNatsServer } from '@exorelay/testing'
import ts from 'typescript'
import { codeBlocks, repositoryRoot, runExample } from './doc-examples.js'

// Every TypeScript example of every package README type-checks under the repository's strict
// settings and runs as written, against a real bus. docs.test.ts runs the root README and the
// guides; the root README's examples are type-checked here too. Each example is written to
// `.docs-run/` beside the document (a package's folder, or the root), where a user of the
// repository would put it, so that it imports the built packages by name.

const root = fileURLToPath(repositoryRoot)

const packagesWithReadmes = readdirSync(new URL('packages/', repositoryRoot), {
  withFileTypes: true,
})
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .filter((name) => existsSync(new URL(`packages/${name}/README.md`, repositoryRoot)))

interface Example {
  readonly document: string
  readonly index: number
  readonly file: string
  readonly code: string
}

function examplesOf(document: string): Example[] {
  const dir = `${root}${dirname(document) === '.' ? '' : `${dirname(document)}/`}.docs-run/`
  return codeBlocks(document, 'ts').map((code, index) => ({
    document,
    index: index + 1,
    file: `${dir}README-${index + 1}.ts`,
    code,
  }))
}

/** Type-checked and run here. */
const examples = packagesWithReadmes.flatMap((name) => examplesOf(`packages/${name}/README.md`))
/**
 * Type-checked here; the README's and the guides' are run by docs.test.ts. The reference and
 * the decision records show fragments of a service, which type-check but have nothing to run.
 */
const typeCheckedOnly = ['README.md', ...markdownUnder('docs/')]
  .filter((document) => codeBlocks(document, 'ts').length > 0)
  .flatMap(examplesOf)

/** The Markdown documents under `folder`, outside the runnable example projects. */
function markdownUnder(folder: string): string[] {
  return readdirSync(new URL(folder, repositoryRoot), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.md') && !file.startsWith('examples/'))
    .map((file) => `${folder}${file}`)
    .sort()
}

// The check must catch what a user's strict tsc catches: a member that does not exist (the
// fastify-listener README once called `relay.receive`) and an undeclared variable.
const canary = {
  file: `${root}packages/core/.docs-run/canary.ts`,
  code: [
    "import { MemoryBus, Relay } from '@exorelay/core'",
    '',
    "const relay = new Relay({ serviceName: 'a', transport: new MemoryBus().transport() })",
    'console.log(relay.receive, logger)',
    '',
  ].join('\n'),
}
const written = [...examples, ...typeCheckedOnly, canary]
const runDirs = [...new Set(written.map((example) => dirname(example.file)))]

let bus: ExoCom
let nats: NatsServer | undefined
let diagnostics: Map<string, string[]>

before(async () => {
  for (const dir of runDirs) {
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
  }
  for (const example of written) writeFileSync(example.file, example.code)
  // An example that declares the app's message map (`declare module 'exorelay'`) types every
  // `app.exorelay` of its program, as in an app: each is checked in a program of its own.
  const [own, shared] = partition(written, (example) => declaresMessageMap(example.code))
  diagnostics = new Map([
    ...typeCheck(shared.map((example) => example.file)),
    ...own.flatMap((example) => [...typeCheck([example.file])]),
  ])
  bus = await startExoCom({ port: 0, logger: false })
})

after(async () => {
  await bus?.close()
  await nats?.stop()
  for (const dir of runDirs) rmSync(dir, { recursive: true, force: true })
})

function declaresMessageMap(code: string): boolean {
  return code.includes("declare module 'exorelay'")
}

function partition<T>(items: readonly T[], test: (item: T) => boolean): [T[], T[]] {
  return [items.filter(test), items.filter((item) => !test(item))]
}

/**
 * Type-checks the files as one program with the repository's compiler options (strict,
 * exactOptionalPropertyTypes, …), the way a user's `tsc` would see them. Returns each file's
 * errors, formatted with line and column.
 */
function typeCheck(files: string[]): Map<string, string[]> {
  const configFile = ts.readConfigFile(`${root}tsconfig.base.json`, (path) => ts.sys.readFile(path))
  const { options } = ts.parseJsonConfigFileContent(configFile.config, ts.sys, root)
  const program = ts.createProgram(files, { ...options, noEmit: true })
  const byFile = new Map<string, string[]>(files.map((file) => [file, []]))
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')
    const file = diagnostic.file
    if (file === undefined) {
      for (const errors of byFile.values()) errors.push(`TS${diagnostic.code}: ${message}`)
      continue
    }
    const { line, character } = file.getLineAndCharacterOfPosition(diagnostic.start ?? 0)
    byFile
      .get(file.fileName)
      ?.push(`line ${line + 1}:${character + 1} TS${diagnostic.code}: ${message}`)
  }
  return byFile
}

test('every package README with a code block is checked here', () => {
  assert.ok(examples.length >= 10, `only ${examples.length} examples found`)
  for (const name of ['core', 'exorelay', 'fastify-listener', 'http-transport', 'exocom']) {
    assert.ok(
      examples.some((example) => example.document === `packages/${name}/README.md`),
      `packages/${name}/README.md has no ts example`,
    )
  }
})

test('the type check reports what strict tsc reports', () => {
  const errors = diagnostics.get(canary.file)?.join('\n') ?? ''
  assert.match(errors, /TS2339: Property 'receive' does not exist on type 'Relay/)
  assert.match(errors, /TS2304: Cannot find name 'logger'/)
})

test('an example that is a failing test file fails its run', { timeout: 30_000 }, async () => {
  const failing = [
    "import assert from 'node:assert/strict'",
    "import { test } from 'node:test'",
    '',
    "test('fails', () => assert.equal(1, 2))",
  ].join('\n')
  await assert.rejects(
    runExample(failing, {
      file: `${root}packages/core/.docs-run/failing.ts`,
      nodeArgs: ['--import', 'tsx'],
      env: {},
      name: 'a failing test file',
    }),
    /a failing test file failed/,
  )
})

for (const example of typeCheckedOnly) {
  describe(example.document, () => {
    test(`example ${example.index} type-checks`, () => {
      const errors = diagnostics.get(example.file) ?? []
      assert.deepEqual(
        errors,
        [],
        `${example.document} example ${example.index} does not type-check:\n${errors.join('\n')}`,
      )
    })
  })
}

// Examples on NATS read NATS_URL, as services do; the server starts for the first of them.
async function natsUrl(): Promise<string> {
  nats ??= await startNatsServer()
  return nats.url
}

for (const example of examples) {
  describe(example.document, () => {
    test(`example ${example.index} type-checks and runs as written`, {
      timeout: 60_000,
    }, async () => {
      const errors = diagnostics.get(example.file) ?? []
      assert.deepEqual(
        errors,
        [],
        `${example.document} example ${example.index} does not type-check:\n${errors.join('\n')}`,
      )
      await runExample(example.code, {
        file: example.file,
        nodeArgs: ['--import', 'tsx'],
        env: {
          EXOCOM_PORT: String(bus.port),
          EXOCOM_HOST: '127.0.0.1',
          ...(example.code.includes("from '@exorelay/nats-transport'") && {
            NATS_URL: await natsUrl(),
          }),
        },
        name: `${example.document} example ${example.index}`,
      })
    })
  })
}

describe('packages/exocom/README.md', () => {
  test('the usage it shows is what `exocom --help` prints', { timeout: 30_000 }, async () => {
    const bin = fileURLToPath(new URL('packages/exocom/bin/exocom.js', repositoryRoot))
    const printed = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [bin, '--help'], { timeout: 20_000 }, (error, stdout) =>
        error === null ? resolve(stdout) : reject(error),
      )
    })
    const readme = readFileSync(new URL('packages/exocom/README.md', repositoryRoot), 'utf8')
    const shown = /^```text\n(Usage: exocom[\s\S]*?)^```$/m.exec(readme)?.[1]
    assert.equal(shown, printed, 'copy the output of `exocom --help` into the README')
  })
})

describe('docs/reference/README.md', () => {
  test('links the README of every public package', () => {
    const index = readFileSync(new URL('docs/reference/README.md', repositoryRoot), 'utf8')
    for (const name of packagesWithReadmes) {
      const manifest = JSON.parse(
        readFileSync(new URL(`packages/${name}/package.json`, repositoryRoot), 'utf8'),
      ) as { private?: boolean }
      if (manifest.private === true) continue
      assert.ok(
        index.includes(`(../../packages/${name}/README.md)`),
        `docs/reference/README.md does not link packages/${name}/README.md`,
      )
    }
  })
})
