import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { describe, test } from 'node:test'
import { codeBlocks, fencesOf, repositoryRoot } from './doc-examples.js'

// A reader who copies a guide's code into an app of their own needs every package it imports:
// each guide says so in an `npm install` line (a ```sh block), and points to getting started
// for how to run TypeScript. A guide once imported fastify and pino without saying either.

const guides = readdirSync(new URL('docs/guides/', repositoryRoot))
  .filter((file) => file.endsWith('.md'))
  .map((file) => `docs/guides/${file}`)

/** The package an import specifier names: `@scope/name` or `name`; none for Node's own. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('node:')) return undefined
  const [first = '', second] = specifier.split('/')
  if (builtinModules.includes(first)) return undefined
  return first.startsWith('@') ? `${first}/${second}` : first
}

/** The packages the code imports (statically, or by a dynamic `import('…')`). */
function importedPackages(code: string): Set<string> {
  const specifiers = code.matchAll(
    /(?:^\s*import\s[^'"]*?from\s*|^\s*import\s*|\bimport\(\s*|^\s*export\s[^'"]*?from\s*)['"]([^'"]+)['"]/gm,
  )
  const packages = new Set<string>()
  for (const [, specifier] of specifiers) {
    const name = packageOf(specifier!)
    if (name !== undefined) packages.add(name)
  }
  return packages
}

/** The packages of the `npm install` (or `npm i`, `npm add`) lines of the script. */
function installedPackages(script: string): Set<string> {
  const packages = new Set<string>()
  for (const [, args] of script.matchAll(/\bnpm\s+(?:install|i|add)\b([^\n#&|;]*)/g)) {
    for (const arg of args!.trim().split(/\s+/)) {
      if (arg === '' || arg.startsWith('-')) continue
      // `name@version` and `@scope/name@version` install `name` and `@scope/name`.
      packages.add(arg.replace(/(?<=.)@[^/]*$/, ''))
    }
  }
  return packages
}

test('imports and npm install lines are read as a reader reads them', () => {
  assert.deepEqual(
    [
      ...importedPackages(
        [
          "import { readFile } from 'node:fs/promises'",
          "import assert from 'assert'",
          "import Fastify from 'fastify'",
          "import { context, trace } from '@opentelemetry/api'",
          'import {',
          '  BasicTracerProvider,',
          "} from '@opentelemetry/sdk-trace-base'",
          "import './local.js'",
          "import 'pino-pretty'",
          "const nats = await import('@exorelay/nats-transport')",
          "export { x } from 'undici/lib/pool.js'",
        ].join('\n'),
      ),
    ],
    [
      'fastify',
      '@opentelemetry/api',
      '@opentelemetry/sdk-trace-base',
      'pino-pretty',
      '@exorelay/nats-transport',
      'undici',
    ],
  )
  assert.deepEqual(
    [
      ...installedPackages(
        'npm install exorelay @exorelay/exocom@0.1.0 # the relay\nnpm i -D tsx@^4 && npx tsx a.ts',
      ),
    ],
    ['exorelay', '@exorelay/exocom', 'tsx'],
  )
})

for (const guide of guides) {
  describe(guide, () => {
    const imported = new Set(
      [...codeBlocks(guide, 'ts'), ...codeBlocks(guide, 'js')].flatMap((code) => [
        ...importedPackages(code),
      ]),
    )
    const installed = new Set(
      fencesOf(guide)
        .filter((fence) => ['sh', 'bash', 'shell'].includes(fence.language))
        .flatMap((fence) => [...installedPackages(fence.code)]),
    )

    test('an npm install line names every package its code imports', () => {
      const missing = [...imported].filter((name) => !installed.has(name))
      assert.deepEqual(
        missing,
        [],
        `${guide} imports ${missing.join(', ')} without saying to install it: add an \`npm install\` line in a \`\`\`sh block`,
      )
    })

    if (!guide.endsWith('/getting-started.md')) {
      test('it links to getting started, which says how to run TypeScript', () => {
        const text = readFileSync(new URL(guide, repositoryRoot), 'utf8')
        assert.match(text, /\]\(getting-started\.md(#[^)]*)?\)/)
      })
    }
  })
}
