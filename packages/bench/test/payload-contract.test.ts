import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { MessageSchemas } from '@exorelay/core'
import { PAYLOAD, REPLY_NAME, REQUEST_NAME } from '../src/payload.js'
import { VALIDATORS } from '../src/payload-contract.js'

async function issuePaths(schema: MessageSchemas['payload'], value: unknown): Promise<string[]> {
  assert.ok(schema !== undefined)
  const result = await schema['~standard'].validate(value)
  return (result.issues ?? []).map((issue) =>
    (issue.path ?? [])
      .map((segment) => String(typeof segment === 'object' ? segment.key : segment))
      .join('.'),
  )
}

describe('the payload contracts', () => {
  for (const [validator, contract] of Object.entries(VALIDATORS)) {
    const schemas = contract.messages[REQUEST_NAME]

    it(`accept the benchmark's payload as the request and as the reply (${validator})`, async () => {
      assert.deepEqual(await issuePaths(schemas?.payload, PAYLOAD), [])
      assert.deepEqual(await issuePaths(schemas?.replies?.[REPLY_NAME], PAYLOAD), [])
    })

    it(`check every field, so that validation does real work (${validator})`, async () => {
      const paths = await issuePaths(schemas?.payload, { user: '', n: 1.5, text: 7 })
      assert.deepEqual([...paths].sort(), ['n', 'text', 'user'])
    })
  }
})
