import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { basename, dirname } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type ExoCom, startExoCom } from '@exorelay/exocom'
import { type NatsServer, startNatsServer } from '@exorelay/testing'
import ts from 'typescript'
import { checkedDocuments, codeBlocks, repositoryRoot, runExample } from './doc-examples.js'

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

/**
 * The TypeScript and JavaScript blocks of a document, in its order of each: `README-2.ts` is
 * its second TypeScript block, `README-1.mjs` its first JavaScript one.
 */
function examplesOf(document: string): Example[] {
  const dir = `${root}${dirname(document) === '.' ? '' : `${dirname(document)}/`}.docs-run/`
  const stem = basename(document, '.md')
  return (['ts', 'js'] as const).flatMap((language) =>
    codeBlocks(document, language).map((code, index) => ({
      document,
      index: index + 1,
      file: `${dir}${stem}-${index + 1}.${language === 'ts' ? 'ts' : 'mjs'}`,
      code,
    })),
  )
}

const isPackageReadme = (document: string) => /^packages\/[^/]+\/README\.md$/.test(document)

/** Type-checked and run here. */
const examples = checkedDocuments().filter(isPackageReadme).flatMap(examplesOf)
/**
 * Type-checked here; the README's and the guides' are run by docs.test.ts (the scaling-out
 * guide's by docs-nats.test.ts). The reference and the decision records show fragments of a
 * service, which type-check but have nothing to run.
 */
const typeCheckedOnly = checkedDocuments()
  .filter((document) => !isPackageReadme(document))
  .flatMap(examplesOf)

// The check must catch what a user's strict tsc catches: a member that does not exist (the
// fastify-listener README once called `relay.receive`), an undeclared variable, a property
// that may be undefined (the typed-messages example once read `reply.payload.id` where the
// types left the payload optional: TS18048 under `strict`), an index that may be out of range
// (noUncheckedIndexedAccess) and, in JavaScript, a wrong argument.
const canary = {
  file: `${root}packages/core/.docs-run/canary.ts`,
  code: [
    "import { type Envelope, MemoryBus, Relay } from '@exorelay/core'",
    '',
    "const relay = new Relay({ serviceName: 'a', transport: new MemoryBus().transport() })",
    'console.log(relay.receive, logger)',
    'declare const reply: Envelope<{ id: number }>',
    'console.log(reply.payload.id)',
    'console.log([1][1].toFixed())',
    '',
  ].join('\n'),
}
const jsCanary = {
  file: `${root}packages/core/.docs-run/canary.mjs`,
  code: [
    "import { MemoryBus } from '@exorelay/core'",
    '',
    'new MemoryBus().transport(42)',
    '',
  ].join('\n'),
}
const written = [...examples, ...typeCheckedOnly, canary, jsCanary]
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
  // JavaScript blocks are checked as a TypeScript user's editor checks them (checkJs).
  const program = ts.createProgram(files, {
    ...options,
    noEmit: true,
    allowJs: true,
    checkJs: true,
  })
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
  assert.match(errors, /line 6:\d+ TS18048: 'reply.payload' is possibly 'undefined'/)
  assert.match(errors, /line 7:\d+ TS2532: Object is possibly 'undefined'/)
  const jsErrors = diagnostics.get(jsCanary.file)?.join('\n') ?? ''
  assert.match(jsErrors, /TS2554: Expected 0 arguments, but got 1/)
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
