import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { checkReport, main, REPORT_FILE, updateReport } from '../src/cli.js'
import { lineDiff } from '../src/diff.js'
import { apiReport } from '../src/report.js'

const INDEX = `export { greet, Greeter } from './greeter.js'
export type { GreetOptions } from './greeter.js'
export { Shared as Renamed } from 'dep'
`
const GREETER = `import type { Shared } from 'dep'
/** Doc comments are not part of the report. */
export interface GreetOptions extends Base { loud?: boolean }
interface Base { name: string }
export declare function greet(options: GreetOptions): string
export declare class Greeter { greet(): Shared }
`

// A built package in a temp folder: package.json, dist/*.d.ts and a dependency in node_modules.
async function fixture(
  t: { after: (fn: () => Promise<void>) => void },
  extra: Record<string, string> = {},
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'exorelay-api-report-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const files: Record<string, string> = {
    'package.json': JSON.stringify({
      name: 'fixture',
      type: 'module',
      exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' } },
    }),
    'dist/index.d.ts': INDEX,
    'dist/greeter.d.ts': GREETER,
    'node_modules/dep/package.json': JSON.stringify({
      name: 'dep',
      type: 'module',
      exports: { '.': { types: './index.d.ts' } },
    }),
    'node_modules/dep/index.d.ts': 'export interface Shared { id: string }\n',
    ...extra,
  }
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true })
    await writeFile(join(dir, path), text)
  }
  return dir
}

test('the report prints every export with its declaration, sorted, without comments', async (t) => {
  const report = apiReport({ packageDir: await fixture(t) })
  assert.match(report, /^# API report: fixture\n/)
  const greetAt = report.indexOf('// export { greet }')
  const greeterAt = report.indexOf('// export { Greeter }')
  const optionsAt = report.indexOf('// export type { GreetOptions }')
  // Sorted by UTF-16 code unit, the same in every locale: upper case before lower case.
  assert.ok(optionsAt > 0 && greeterAt > optionsAt && greetAt > greeterAt, report)
  assert.match(report, /export declare function greet\(options: GreetOptions\): string;/)
  assert.match(report, /export interface GreetOptions extends Base \{\n {4}loud\?: boolean;\n\}/)
  assert.doesNotMatch(report, /Doc comments/)
})

test('an export declared in another package shows as a re-export from it', async (t) => {
  const report = apiReport({ packageDir: await fixture(t) })
  assert.match(report, /^export \{ Shared as Renamed \} from 'dep'$/m)
  assert.doesNotMatch(report, /id: string/)
})

test('a declaration the exports use without exporting it is reported in its own section', async (t) => {
  const report = apiReport({ packageDir: await fixture(t) })
  const section = report.slice(report.indexOf('## Used by the exports, not exported'))
  assert.match(section, /\/\/ Base \(dist\/greeter\.d\.ts, not exported\)\ninterface Base \{/)
})

test("of another package's interface the package augments, only the augmentation is reported", async (t) => {
  const dir = await fixture(t, {
    'dist/index.d.ts': `${INDEX}export type { Plugged } from './plug.js'\n`,
    'dist/plug.d.ts': [
      "import type { Instance } from 'dep'",
      'export interface Plugged { instance: Instance }',
      "declare module 'dep' {",
      '  interface Instance { plugged: Plugged }',
      '}',
      '',
    ].join('\n'),
    'node_modules/dep/index.d.ts': [
      'export interface Shared { id: string }',
      'export interface Instance { version: string }',
      '',
    ].join('\n'),
  })
  const report = apiReport({ packageDir: dir })
  const section = report.slice(report.indexOf('## Used by the exports, not exported'))
  assert.match(
    section,
    /\/\/ Instance \(dist\/plug\.d\.ts, augments 'dep'\)\ndeclare module 'dep' \{\n {4}interface Instance \{\n {8}plugged: Plugged;\n {4}\}\n\}/,
  )
  assert.doesNotMatch(report, /version: string/, "the other package's own declaration")
})

test('the check passes on a fresh report and fails with the diff when an export changes', async (t) => {
  const dir = await fixture(t)
  assert.equal(updateReport(dir), true)
  assert.equal(updateReport(dir), false)
  assert.deepEqual(checkReport(dir).ok, true)

  const changed = GREETER.replace('greet(options: GreetOptions)', 'greet(options?: GreetOptions)')
  await writeFile(join(dir, 'dist/greeter.d.ts'), changed)
  const result = checkReport(dir)
  assert.equal(result.ok, false)
  assert.match(result.message, /^- export declare function greet\(options: GreetOptions\)/m)
  assert.match(result.message, /^\+ export declare function greet\(options\?: GreetOptions\)/m)
  assert.match(result.message, /npm run api:update/)
})

test('the check fails when an export is removed, and when a private type changes', async (t) => {
  const dir = await fixture(t)
  updateReport(dir)
  await writeFile(join(dir, 'dist/index.d.ts'), INDEX.replace('greet, ', ''))
  assert.match(checkReport(dir).message, /^- \/\/ export \{ greet \}$/m)

  await writeFile(join(dir, 'dist/index.d.ts'), INDEX)
  await writeFile(join(dir, 'dist/greeter.d.ts'), GREETER.replace('name: string', 'name: number'))
  assert.match(checkReport(dir).message, /^\+ {5}name: number;$/m)
})

test('the check fails when the package has no report yet', async (t) => {
  const dir = await fixture(t)
  const result = checkReport(dir)
  assert.equal(result.ok, false)
  assert.match(result.message, /api-report\.md is missing/)
})

test('the command line exits 1 on a stale report, 0 after update, 2 on a wrong command', async (t) => {
  const dir = await fixture(t)
  const writes: string[] = []
  const write = (chunk: string | Uint8Array) => writes.push(String(chunk)) > 0
  t.mock.method(process.stdout, 'write', write)
  t.mock.method(process.stderr, 'write', write)
  assert.equal(await main(['check'], dir), 1)
  assert.equal(await main(['update'], dir), 0)
  assert.equal(await main(['check'], dir), 0)
  assert.equal(await main(['frobnicate'], dir), 2)
  t.mock.restoreAll()
  assert.match(await readFile(join(dir, REPORT_FILE), 'utf8'), /# API report: fixture/)
  assert.match(writes.join(''), /usage: exorelay-api-report/)
})

test('an entry whose declarations are not built yet is reported as such', async (t) => {
  const dir = await fixture(t)
  await rm(join(dir, 'dist'), { recursive: true })
  assert.throws(() => apiReport({ packageDir: dir }), /build the package first/)
})

test('the line diff marks removed and added lines and keeps three lines of context', () => {
  const before = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].join('\n')
  const after = ['a', 'b', 'c', 'd', 'E', 'f', 'g', 'h', 'i'].join('\n')
  assert.equal(
    lineDiff(before, after),
    ['  …', '  b', '  c', '  d', '- e', '+ E', '  f', '  g', '  h', '  …'].join('\n'),
  )
})

test('a public declaration that uses a sibling internal entry fails the report', async (t) => {
  const dir = await fixture(t)
  await writeFile(join(dir, 'node_modules/dep/internal.d.ts'), 'export interface Secret {}\n')
  const greeter = `import type { Secret } from 'dep/internal'\n${GREETER}`
  await writeFile(join(dir, 'dist/greeter.d.ts'), `${greeter}export type Leak = Secret\n`)
  assert.throws(
    () => apiReport({ packageDir: dir }),
    /dist\/greeter\.d\.ts imports 'dep\/internal': a public declaration must not use an internal entry/,
  )
})

test('an internal entry that would ship its types to users fails the check, naming the fix; ./package.json is no internal entry', async (t) => {
  const dir = await fixture(t)
  await writeFile(join(dir, 'dist/internal.js'), 'export {}\n')
  await writeFile(join(dir, 'dist/internal.d.ts'), 'export {}\n')
  const manifest = (internal: object, files: string[]) =>
    writeFile(
      join(dir, 'package.json'),
      JSON.stringify({
        name: 'fixture',
        version: '1.0.0',
        type: 'module',
        exports: {
          '.': { types: './dist/index.d.ts', default: './dist/index.js' },
          './internal': internal,
          './package.json': './package.json',
        },
        files,
      }),
    )
  updateReport(dir)

  await manifest({ types: './dist/internal.d.ts', default: './dist/internal.js' }, ['dist'])
  const both = checkReport(dir)
  assert.equal(both.ok, false)
  assert.match(both.message, /exports\['\.\/internal'\] has a "types" condition/)
  assert.match(
    both.message,
    /npm pack ships dist\/internal\.d\.ts.*Add "!dist\/internal\.d\.ts" to "files"/,
  )

  await manifest({ default: './dist/internal.js' }, ['dist', '!dist/internal.d.ts'])
  assert.deepEqual(checkReport(dir), { ok: true, message: 'api-report.md is up to date.' })
})
