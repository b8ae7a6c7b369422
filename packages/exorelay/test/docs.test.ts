import { mkdirSync, readdirSync, rmSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type ExoCom, startExoCom } from '@exorelay/exocom'
import { codeBlocks, repositoryRoot, runExample } from './doc-examples.js'

// Every TypeScript example in the README and the guides runs as written, against a real bus.
const runDir = fileURLToPath(new URL('../.docs-run/', import.meta.url))
const documents = [
  'README.md',
  ...readdirSync(new URL('docs/guides/', repositoryRoot))
    .filter((file) => file.endsWith('.md'))
    .map((file) => `docs/guides/${file}`),
]

let bus: ExoCom

before(async () => {
  rmSync(runDir, { recursive: true, force: true })
  mkdirSync(runDir, { recursive: true })
  bus = await startExoCom({ port: 0, logger: false })
})

after(async () => {
  await bus.close()
  rmSync(runDir, { recursive: true, force: true })
})

for (const document of documents) {
  describe(document, () => {
    for (const [index, code] of codeBlocks(document, 'ts').entries()) {
      test(`example ${index + 1} runs as written`, { timeout: 60_000 }, async () => {
        await runExample(code, {
          file: `${runDir}${document.replaceAll('/', '-')}-${index + 1}.ts`,
          nodeArgs: ['--import', 'tsx'],
          env: { EXOCOM_PORT: String(bus.port), EXOCOM_HOST: '127.0.0.1' },
          name: `${document} example ${index + 1}`,
        })
      })
    }
  })
}
