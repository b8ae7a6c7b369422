import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runCoreMicro } from '../src/core-micro.js'

describe('runCoreMicro', () => {
  it('completes request/replies through two relays and reports a time for each variant', async () => {
    const result = await runCoreMicro({ iterations: 200, warmup: 20 })
    assert.equal(result.iterations, 200)
    assert.ok(result.nsPerRequestReply > 0)
    assert.ok(result.nsPerRequestReplyWithJson > 0)
    assert.ok(result.nsPerRequestReplyWithoutStacks > 0)
  })
})
