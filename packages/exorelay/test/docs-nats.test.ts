import assert from 'node:assert/strict'
import { mkdirSync, rmSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type NatsServer, startNatsServer } from '@exorelay/testing'
import { codeBlocks, runExample } from './doc-examples.js'

// Every example of the scaling-out guide runs as written, against a real nats-server, with
// the environment the guide tells services to set. (docs.test.ts runs the examples of the
// other guides against ExoCom.)
const guide = 'docs/guides/scaling-out.md'
const runDir = fileURLToPath(new URL('../.docs-run-nats/', import.meta.url))

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
  const blocks = codeBlocks(guide, 'ts')

  test('the guide has examples to run', () => {
    assert.ok(blocks.length >= 2)
  })

  for (const [index, code] of blocks.entries()) {
    test(`example ${index + 1} runs as written on NATS`, { timeout: 60_000 }, async () => {
      await runExample(code, {
        file: `${runDir}scaling-out-${index + 1}.ts`,
        nodeArgs: ['--import', 'tsx'],
        env: { EXORELAY_TRANSPORT: 'nats', NATS_URL: nats.url },
        name: `${guide} example ${index + 1}`,
      })
    })
  }
})
