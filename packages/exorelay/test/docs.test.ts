import { mkdirSync, readdirSync, rmSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type ExoCom, startExoCom } from '@exorelay/exocom'
import { codeBlocks, repositoryRoot, runExample } from './doc-examples.js'

// Every TypeScript and JavaScript example in the README and the guides runs as written,
// against a real bus. The scaling-out guide's run on NATS, in docs-nats.test.ts.
// docs-packages.test.ts writes into `.docs-run/` folders too, and may run at the same time:
// this file keeps to its own folder.
const runDir = fileURLToPath(new URL('../.docs-run-guides/', import.meta.url))
const documents = [
  'README.md',
  ...readdirSync(new URL('docs/guides/', repositoryRoot))
    .filter((file) => file.endsWith('.md') && file !== 'scaling-out.md')
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
    for (const [language, extension, nodeArgs] of [
      ['ts', 'ts', ['--import', 'tsx']],
      ['js', 'mjs', []],
    ] as const) {
      for (const [index, code] of codeBlocks(document, language).entries()) {
        const name = `${document} ${language === 'js' ? 'JavaScript ' : ''}example ${index + 1}`
        test(`${name.slice(document.length + 1)} runs as written`, {
          timeout: 60_000,
        }, async () => {
          await runExample(code, {
            file: `${runDir}${document.replaceAll('/', '-')}-${index + 1}.${extension}`,
            nodeArgs,
            env: { EXOCOM_PORT: String(bus.port), EXOCOM_HOST: '127.0.0.1' },
            name,
          })
        })
      }
    }
  })
}
