import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type Contract, defineContract, ErrorCodes, PayloadInvalidError } from '@exorelay/core'
import { z } from 'zod'
import { measureCore, runCoreMicro } from '../src/core-micro.js'
import { REPLY_NAME, REQUEST_NAME } from '../src/payload.js'
import type { BenchMessages } from '../src/payload-contract.js'

describe('runCoreMicro', () => {
  const run = runCoreMicro({ iterations: 200, warmup: 20 })

  it('completes request/replies through two relays and reports a time for each variant', async () => {
    const result = await run
    assert.equal(result.iterations, 200)
    assert.ok(result.nsPerRequestReply > 0)
    assert.ok(result.nsPerRequestReplyWithJson > 0)
    assert.ok(result.nsPerRequestReplyWithoutStacks > 0)
  })

  it('measures zod and valibot contracts without and with validateOutgoing, each beside no contract', async () => {
    const { validation } = await run
    assert.deepEqual(
      validation.map(({ validator, validateOutgoing, validations }) => ({
        validator,
        validateOutgoing,
        validations,
      })),
      [
        { validator: 'zod', validateOutgoing: false, validations: 2 },
        { validator: 'zod', validateOutgoing: true, validations: 4 },
        { validator: 'valibot', validateOutgoing: false, validations: 2 },
        { validator: 'valibot', validateOutgoing: true, validations: 4 },
      ],
    )
    for (const variant of validation) {
      assert.ok(variant.nsPerRequestReply > 0)
      assert.ok(variant.nsPerRequestReplyWithoutContract > 0)
    }
  })
})

describe('measureCore with a contract', () => {
  // A contract the benchmark's payload does not meet: the measured relays must refuse it, or
  // the validation figures would measure relays that check nothing.
  const refusing = defineContract({
    [REQUEST_NAME]: {
      payload: z.object({ user: z.number() }),
      replies: { [REPLY_NAME]: z.object({ user: z.number() }) },
    },
  }) as unknown as Contract<BenchMessages>

  for (const validateOutgoing of [false, true]) {
    it(`validates the payload with validateOutgoing: ${validateOutgoing}`, async () => {
      await assert.rejects(
        measureCore({ contract: refusing, validateOutgoing }, { iterations: 1, warmup: 0 }),
        (error: unknown) => {
          assert.ok(error instanceof PayloadInvalidError)
          assert.equal(error.code, ErrorCodes.PAYLOAD_INVALID)
          // Refused before it left, or by the receiving service.
          assert.equal(error.service, validateOutgoing ? undefined : 'users')
          return true
        },
      )
    })
  }
})
