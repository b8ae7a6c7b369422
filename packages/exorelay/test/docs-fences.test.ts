import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { describe, test } from 'node:test'
import {
  checkedDocuments,
  checkedTags,
  fencesIn,
  fencesOf,
  repositoryRoot,
} from './doc-examples.js'

// No code block escapes the docs checks: docs-packages.test.ts type-checks the blocks tagged
// `ts`/`typescript` and `js`/`javascript`/`mjs` of the checked documents, and docs.test.ts,
// docs-nats.test.ts and docs-packages.test.ts run them. A block without a tag, or tagged with
// another name of a language that compiles to JavaScript, would be skipped silently.

/** Tags of languages that compile to JavaScript: each must be one the checks read. */
const javascriptFamily = /^(ts|typescript|tsx|mts|cts|js|javascript|jsx|mjs|cjs|es6|node)$/i
const readTags: readonly string[] = [...checkedTags.ts, ...checkedTags.js]

/** The runnable example projects' READMEs: outside the checked documents, so no code there. */
const exampleReadmes = readdirSync(new URL('docs/examples/', repositoryRoot), {
  recursive: true,
  encoding: 'utf8',
})
  .filter((file) => file.endsWith('.md') && !file.includes('node_modules'))
  .map((file) => `docs/examples/${file}`)

test('the fence parser finds indented, tilde and untagged blocks', () => {
  const fences = fencesIn(
    [
      '1. a step',
      '   ```ts',
      "   import { ExoRelay } from 'exorelay'",
      '   ```',
      '~~~typescript title="x"',
      'const a = 1',
      '~~~',
      '```',
      'plain',
      '```',
      '````md',
      '```ts',
      'inside',
      '```',
      '````',
    ].join('\n'),
  )
  assert.deepEqual(
    fences.map(({ language, code, line }) => ({ language, code, line })),
    [
      { language: 'ts', code: "import { ExoRelay } from 'exorelay'\n", line: 2 },
      { language: 'typescript', code: 'const a = 1\n', line: 5 },
      { language: '', code: 'plain\n', line: 8 },
      { language: 'md', code: '```ts\ninside\n```\n', line: 11 },
    ],
  )
})

for (const document of [...checkedDocuments(), ...exampleReadmes]) {
  describe(document, () => {
    const fences = fencesOf(document)

    test('every code block names its language', () => {
      const untagged = fences.filter((fence) => fence.language === '').map((fence) => fence.line)
      assert.deepEqual(
        untagged,
        [],
        `${document}: the blocks opened on lines ${untagged.join(', ')} have no language; tag them (\`\`\`ts, \`\`\`sh, \`\`\`text, …)`,
      )
    })

    test('every TypeScript or JavaScript block is one the checks read', () => {
      const skipped = fences.filter(
        (fence) => javascriptFamily.test(fence.language) && !readTags.includes(fence.language),
      )
      assert.deepEqual(
        skipped.map((fence) => `line ${fence.line}: ${fence.language}`),
        [],
        `${document}: tag TypeScript \`ts\` and JavaScript \`js\`, so that the docs tests type-check and run it`,
      )
      if (exampleReadmes.includes(document)) {
        const code = fences.filter((fence) => readTags.includes(fence.language))
        assert.deepEqual(
          code.map((fence) => `line ${fence.line}: ${fence.language}`),
          [],
          `${document}: the example projects' READMEs are not checked; show their code from src/ instead`,
        )
      }
    })
  })
}
