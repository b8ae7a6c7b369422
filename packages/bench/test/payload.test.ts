import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ErrorCodes } from '@exorelay/core'
import {
  DEFAULT_PAYLOAD_BYTES,
  MIN_PAYLOAD_BYTES,
  makePayload,
  PAYLOAD_JSON,
  payloadBytes,
} from '../src/payload.js'

describe('the payload', () => {
  it('is 96 bytes of JSON unless the parent asks for another size', () => {
    assert.equal(DEFAULT_PAYLOAD_BYTES, 96)
    assert.equal(payloadBytes(undefined), 96)
    assert.equal(payloadBytes(''), 96)
    assert.equal(Buffer.byteLength(PAYLOAD_JSON), 96)
  })

  it('takes the size BENCH_PAYLOAD_BYTES names, to the byte', () => {
    for (const bytes of [MIN_PAYLOAD_BYTES, 100, 10_000, 1_000_000]) {
      assert.equal(
        Buffer.byteLength(JSON.stringify(makePayload(payloadBytes(String(bytes))))),
        bytes,
      )
    }
  })

  it('refuses a size that is not a whole number of bytes or below the smallest payload', () => {
    for (const text of ['abc', '1.5', String(MIN_PAYLOAD_BYTES - 1)]) {
      assert.throws(
        () => payloadBytes(text),
        (error: Error & { code?: string }) => {
          assert.equal(error.code, ErrorCodes.INVALID_OPTION)
          assert.match(error.message, /BENCH_PAYLOAD_BYTES must be a whole number of bytes/)
          return true
        },
      )
    }
  })
})
