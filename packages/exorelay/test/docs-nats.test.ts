import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type NatsServer, startNatsServer } from '@exorelay/testing'
import { codeBlocks } from './doc-examples.js'

// Every JavaScript example of the scaling-out guide runs as written, against a real
// nats-server, with the environment the guide tells services to set. (docs.test.ts runs the
// TypeScript examples of all guides against ExoCom; this guide has none.)
const guide = 'docs/guides/scaling-out.md'
const runDir = fileURLToPath(new URL('./.docs-run/', import.meta.url))

let nats: NatsServer

before(async () => {
  rmSync(runDir, { recursive: true, force: true })
  mkdirSync(runDir, { recursive: true })
  nats = await startNatsServer()
})

after(async () => {
  await nats.stop()
  rmSync(runDir, { recursive: true, force: true })
})

describe(guide, () => {
  const blocks = codeBlocks(guide, 'js')

  test('the guide has examples to run', () => {
    assert.ok(blocks.length >= 2)
  })

  for (const [index, code] of blocks.entries()) {
    test(`example ${index + 1} runs as written on NATS`, { timeout: 60_000 }, async () => {
      const file = `${runDir}scaling-out-${index + 1}.mjs`
      writeFileSync(file, code)
      const child = spawn(process.execPath, [file], {
        cwd: runDir,
        env: { ...process.env, EXORELAY_TRANSPORT: 'nats', NATS_URL: nats.url },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let output = ''
      child.stdout!.on('data', (chunk) => {
        output += chunk
      })
      child.stderr!.on('data', (chunk) => {
        output += chunk
      })
      const [exitCode] = await once(child, 'exit')
      assert.equal(exitCode, 0, `${guide} example ${index + 1} failed:\n${output}`)
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
