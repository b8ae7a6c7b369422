import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type ExoCom, startExoCom } from '@exorelay/exocom'
import { codeBlocks, repositoryRoot } from './doc-examples.js'

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
        const file = `${runDir}${document.replaceAll('/', '-')}-${index + 1}.ts`
        writeFileSync(file, code)
        // A block that imports node:test is a test file: run it the way users run theirs.
        const args = code.includes("from 'node:test'") ? ['--test', file] : [file]
        const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
          cwd: runDir,
          env: { ...process.env, EXOCOM_PORT: String(bus.port), EXOCOM_HOST: '127.0.0.1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        let output = ''
        child.stdout.on('data', (chunk) => {
          output += chunk
        })
        child.stderr.on('data', (chunk) => {
          output += chunk
        })
        const [code_] = await once(child, 'exit')
        assert.equal(code_, 0, `${document} example ${index + 1} failed:\n${output}`)
        // `console.log(x) // what it prints` in an example is a promise the output keeps.
        for (const [, printed] of code.matchAll(/console\.log\(.*\) \/\/ (.+)$/gm)) {
          assert.ok(
            output.includes(printed!.trim()),
            `expected the output to contain ${printed}:\n${output}`,
          )
        }
      })
    }
  })
}
