import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MsgHdrsImpl } from '@nats-io/transport-node'
import fc from 'fast-check'
import { type HeaderReader, readHeaderBlock } from '../src/header-block.js'

const encoder = new TextEncoder()

/** What nats.js reads of `block`, or the message it throws. */
function natsReads(block: string): { code: number; read: (name: string) => string[] } | string {
  try {
    const hdrs = MsgHdrsImpl.decode(encoder.encode(block))
    return { code: hdrs.code, read: (name) => hdrs.values(name) }
  } catch (error) {
    return (error as Error).message
  }
}

function ours(block: string): HeaderReader | string {
  try {
    return readHeaderBlock(encoder.encode(block))
  } catch (error) {
    return (error as Error).message
  }
}

/** Both read `block` alike: the same status code and values for `names`, or both throw. */
function assertSameAsNats(block: string, names: readonly string[]): void {
  const expected = natsReads(block)
  const actual = ours(block)
  if (typeof expected === 'string') {
    assert.equal(typeof actual, 'string', `nats.js refuses ${JSON.stringify(block)}: ${expected}`)
    return
  }
  assert.notEqual(typeof actual, 'string', `nats.js reads ${JSON.stringify(block)}: ${actual}`)
  const reader = actual as HeaderReader
  assert.equal(reader.code, expected.code)
  for (const name of names) {
    assert.deepEqual(
      reader.values(name),
      expected.read(name),
      `${name} in ${JSON.stringify(block)}`,
    )
    assert.equal(reader.get(name), expected.read(name)[0] ?? '')
  }
}

describe('readHeaderBlock reads a header block as nats.js does', () => {
  test('the blocks ExoRelay and the NATS server send', () => {
    const names = [
      'exorelay-reply-to',
      'exorelay-timeout',
      'traceparent',
      'tracestate',
      'Exorelay-Timeout',
    ]
    for (const block of [
      'NATS/1.0\r\nexorelay-reply-to: _INBOX.abc.r\r\nexorelay-timeout: 10000\r\n\r\n',
      'NATS/1.0\r\nexorelay-timeout:   42  \r\ntraceparent: 00-a-b-01\r\ntracestate: x=1\r\ntracestate: y=2\r\n\r\n',
      'NATS/1.0 503\r\n\r\n',
      'NATS/1.0 503 No Responders\r\n\r\n',
      'NATS/1.0 abc\r\n\r\n',
      'NATS/1.0\r\n\r\n',
      '',
      'NATS/1.0\r\nno colon here\r\nexorelay-timeout: 1\r\n\r\n',
      'NATS/1.0\r\nbad name: 1\r\n\r\n',
      'NATS/1.0\r\nname\u00e9: 1\r\n\r\n',
      'NATS/1.0\r\nexorelay-timeout: 1\n2\r\n\r\n',
    ]) {
      assertSameAsNats(block, names)
    }
  })

  test('property: any block of any names and values', () => {
    const name = fc.oneof(
      fc.constantFrom('exorelay-timeout', 'traceparent', 'tracestate', 'a', 'A'),
      fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 12 }),
    )
    const line = fc.tuple(name, fc.string({ unit: 'binary-ascii', maxLength: 20 }))
    fc.assert(
      fc.property(
        fc.constantFrom('NATS/1.0', 'NATS/1.0 503', 'NATS/1.0 408 Timeout', 'NATS/1.0  '),
        fc.array(line, { maxLength: 6 }),
        (first, lines) => {
          const block = `${first}\r\n${lines.map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`
          assertSameAsNats(block, [...new Set(lines.map(([k]) => k)), 'missing'])
        },
      ),
      { numRuns: 2000 },
    )
  })
})
