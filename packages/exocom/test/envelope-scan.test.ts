import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type Envelope, parseEnvelope } from '@exorelay/core'
import { MAX_BATCH_MESSAGES } from '@exorelay/http-protocol'
import fc from 'fast-check'
import Fastify from 'fastify'
import {
  MAX_SCAN_DEPTH,
  RawPayload,
  type ScannedBody,
  ScannedEnvelope,
  scanMessageBody,
} from '../src/envelope-scan.js'
import { forwardedBody } from '../src/forwarded-body.js'

// The scan must never take what the bus's full parser (Fastify's, secure-json-parse) refuses,
// and what it takes it must read as that parser does: it is the oracle here.
const fullParser = Fastify().getDefaultJsonParser('error', 'error')

/** What the bus parsed before the scan: the value, or `refused`. */
function fullParse(text: string): { value: unknown } | 'refused' {
  let result: { value: unknown } | 'refused' = 'refused'
  fullParser({} as never, text, (error, value) => {
    if (error === null) result = { value }
  })
  return result
}

function scan(text: string): ScannedBody | undefined {
  return scanMessageBody(text, MAX_BATCH_MESSAGES)
}

/** The scan of a one-message body with `payload` as its text. */
function scanPayload(payload: string): ScannedEnvelope | undefined {
  const body = scan(`{"sender":"web","id":"m-1","payload":${payload}}`)
  assert.ok(body === undefined || body instanceof ScannedEnvelope)
  return body
}

/** The payload's text as the scan kept it. */
function payloadText(body: ScannedBody | undefined): string | null | undefined {
  assert.ok(body instanceof ScannedEnvelope, 'the body was scanned')
  const { payload } = body
  return payload instanceof RawPayload ? payload.json : payload
}

const VALID_PAYLOADS = [
  // Strings: plain, every escape, unicode raw and escaped, surrogate pairs, U+2028.
  '""',
  '"plain"',
  String.raw`"\" \\ \/ \b \f \n \r \t"`,
  String.raw`"\u0041\u00e9\u00E9\ud83d\ude00"`,
  String.raw`"\ud800 lone surrogate escape"`,
  '"grüße ✓ 😀 \u2028 \u2029 \u007f"',
  `"${'long '.repeat(20_000)}"`,
  `"${'\\n'.repeat(1000)}"`,
  // Long runs of plain characters between escapes, and escapes right at their ends.
  `"${'a'.repeat(40)}\\n${'b'.repeat(40)}\\u00e9${'c'.repeat(100)}\\""`,
  // Numbers.
  '0',
  '-0',
  '7',
  '-12',
  '1.5',
  '-0.25',
  '1e10',
  '1E+10',
  '2.5e-3',
  '123456789012345678901234567890',
  // Literals.
  'true',
  'false',
  // Arrays and objects, empty, nested, with whitespace everywhere JSON allows it.
  '[]',
  '{}',
  '[1,"two",true,false,null,{"a":[]},[[]]]',
  '{"a":{"b":{"c":[1,{"d":"e"}]}}}',
  ' \t\n\r[ 1 , { "a" : [ ] } , "x" ] \r\n',
  '{ "a" : 1 , "b" : [ true , null ] }',
  // Keys: escaped, empty, unicode, duplicated (the receiver's JSON.parse takes the last).
  String.raw`{"\u0061":1,"":2,"grüße":3,"a":4,"a":5}`,
  // Keys that are words of the envelope: inside the payload they are data.
  '{"id":1,"payload":{"sender":2},"name":3}',
  // `constructor` and `prototype` that secure-json-parse lets through.
  '{"constructor":{"polluted":true},"prototype":{"polluted":true}}',
  '{"constructor":[{"prototype":1}]}',
  '{"constructor":"prototype","prototype":{"constructor":1}}',
]

const MALFORMED_PAYLOADS = [
  '',
  ' ',
  '[1,]',
  '{"a":1,}',
  '[,1]',
  '{,}',
  '[1 2]',
  '{"a":1 "b":2}',
  '{"a" 1}',
  '{"a":}',
  '{a:1}',
  "{'a':1}",
  '{1:2}',
  '[',
  '{',
  '[1',
  '{"a":1',
  '"unterminated',
  '"bad escape \\x"',
  '"bad escape \\u12"',
  '"bad escape \\u12G4"',
  // Raw control characters whose code, folded to lower case, is a digit's: not hex digits.
  '"bad escape \\u\u0010\u0011\u0012\u0013"',
  '"bad escape \\U0041"',
  '"raw\u0000control"',
  '"raw\ttab"',
  '"raw\nnewline"',
  `"${'a'.repeat(40)}\u0001"`,
  `"${'a'.repeat(40)}\\x"`,
  `"${'a'.repeat(40)}\\u00e"`,
  `"${'a'.repeat(40)}`,
  '01',
  '-01',
  '1.',
  '.5',
  '+1',
  '-',
  '1e',
  '1e+',
  '1.e3',
  '0x10',
  'NaN',
  'Infinity',
  '-Infinity',
  'undefined',
  'tru',
  'nul',
  'True',
  'nulll',
  '[1]]',
  '{}}',
  '[1] 2',
  '/* comment */ 1',
  '[1\u00a0]',
  '[1\u000b]',
  '[1\u000c]',
  '[\ufeff1]',
]

describe('the envelope scan', () => {
  test('keeps every well-formed payload as the exact text the sender wrote', () => {
    for (const payload of VALID_PAYLOADS) {
      const body = `{"sender":"web","id":"m-1","payload":${payload}}`
      const full = fullParse(body)
      assert.notEqual(full, 'refused', `the full parser takes ${payload.slice(0, 60)}`)
      assert.equal(payloadText(scan(body)), payload.trim(), payload.slice(0, 60))
    }
  })

  test('leaves every malformed payload to the full parser, which refuses it', () => {
    for (const payload of MALFORMED_PAYLOADS) {
      const body = `{"sender":"web","id":"m-1","payload":${payload}}`
      assert.equal(fullParse(body), 'refused', `the full parser refuses ${JSON.stringify(payload)}`)
      assert.equal(scan(body), undefined, JSON.stringify(payload))
    }
  })

  test('leaves a body cut short anywhere to the full parser', () => {
    for (const payload of VALID_PAYLOADS.filter((payload) => payload.length < 200)) {
      const body = `{"sender":"web","id":"m-1","payload":${payload}}`
      for (let end = 0; end < body.length; end++) {
        const cut = body.slice(0, end)
        if (fullParse(cut) === 'refused') assert.equal(scan(cut), undefined, cut)
      }
    }
  })

  test('leaves malformed envelopes, and bodies that are not objects or arrays of them, to the full parser', () => {
    const bodies = [
      '',
      '   ',
      '"a string"',
      '42',
      'null',
      'true',
      '\ufeff{"sender":"web","id":"m-1"}',
      '{"sender":"web","id":"m-1"',
      '{"sender":"web" "id":"m-1"}',
      '{"sender":"web","id":"m-1",}',
      '{"sender":"web","id":"m-1"} {}',
      '{"sender":"web","id":"m\u0001"}',
      // An escape of raw control characters, in a field the scan parses and in a key.
      '{"sender":"web","id":"\\u\u0010\u0011\u0012\u0013"}',
      '{"sender":"web","id":"m-1","\\u\u0010\u0011\u0012\u0013":1}',
      '[{"id":"a"},]',
      '[{"id":"a"},1]',
      '["a"]',
      '[[]]',
      `[${Array.from({ length: MAX_BATCH_MESSAGES + 1 }, (_, i) => `{"id":"${i}"}`).join(',')}]`,
    ]
    for (const body of bodies) {
      assert.equal(scan(body), undefined, JSON.stringify(body.slice(0, 60)))
    }
  })

  test("refuses every '__proto__' key and every 'constructor.prototype', as secure-json-parse does", () => {
    const bodies = [
      '{"__proto__":{"polluted":true},"sender":"web","id":"m-1"}',
      String.raw`{"\u005f_proto__":1,"sender":"web","id":"m-1"}`,
      '{"constructor":{"prototype":{}},"sender":"web","id":"m-1"}',
      '{"sender":"web","id":"m-1","payload":{"__proto__":{"polluted":true}}}',
      String.raw`{"sender":"web","id":"m-1","payload":{"__pro\u0074o__":1}}`,
      '{"sender":"web","id":"m-1","payload":[1,{"a":{"__proto__":null}}]}',
      '{"sender":"web","id":"m-1","payload":{"constructor":{"prototype":{"polluted":1}}}}',
      String.raw`{"sender":"web","id":"m-1","payload":{"constructor":{"a":1,"\u0070rototype":1}}}`,
      '{"sender":"web","id":"m-1","extra":{"__proto__":1}}',
      '[{"sender":"web","id":"m-1"},{"sender":"web","id":"m-2","payload":{"__proto__":1}}]',
    ]
    for (const body of bodies) {
      assert.equal(fullParse(body), 'refused', `the full parser refuses ${body}`)
      assert.equal(scan(body), undefined, body)
    }
  })

  test(`follows nesting to ${MAX_SCAN_DEPTH} levels and leaves deeper payloads to the full parser`, () => {
    const nested = (depth: number) => `${'['.repeat(depth)}0${']'.repeat(depth)}`
    const deepest = nested(MAX_SCAN_DEPTH)
    assert.equal(payloadText(scanPayload(deepest)), deepest)
    assert.equal(scanPayload(nested(MAX_SCAN_DEPTH + 1)), undefined)
    const objects = (depth: number) => `${'{"a":'.repeat(depth)}0${'}'.repeat(depth)}`
    assert.equal(payloadText(scanPayload(objects(MAX_SCAN_DEPTH))), objects(MAX_SCAN_DEPTH))
    assert.equal(scanPayload(objects(MAX_SCAN_DEPTH + 1)), undefined)
    // Deep but well within the limit, many times over: nothing is left on the stack.
    const wide = `[${Array.from({ length: 50 }, () => nested(100)).join(',')}]`
    assert.equal(payloadText(scanPayload(wide)), wide)
  })

  test('reads the envelope fields as JSON.parse does, the last of duplicate keys winning', () => {
    const body = String.raw`{"\u0069d":"first","id":"a\"b\u00e9","sender":"web","responseTo":"r-1","timeout":1.5e3,"traceparent":"00-tp","tracestate":"k=v","instance":"i-1","name":"users.create","unknown":[1,{"x":"y"}],"payload":{"a":1},"payload":null}`
    const scanned = scan(body)
    assert.ok(scanned instanceof ScannedEnvelope)
    assert.deepEqual(
      { ...scanned },
      {
        id: 'a"bé',
        sender: 'web',
        responseTo: 'r-1',
        timeout: 1500,
        traceparent: '00-tp',
        tracestate: 'k=v',
        instance: 'i-1',
        name: 'users.create',
        payload: null,
      },
    )
    // Fields of other types are parsed, for parseEnvelope to refuse or ignore as before.
    const odd = scan('{"id":{"value":"m-1"},"sender":5,"timeout":"soon","responseTo":[1]}')
    assert.ok(odd instanceof ScannedEnvelope)
    assert.deepEqual(odd.id, { value: 'm-1' })
    assert.equal(odd.sender, 5)
    assert.equal(odd.timeout, 'soon')
    assert.deepEqual(odd.responseTo, [1])
  })

  test('reads a batch entry by entry, each with its payload as text', () => {
    const scanned = scan(' [ {"name":"a","id":"1","payload":[1, 2]} , {"name":"b","id":"2"},{} ] ')
    assert.ok(Array.isArray(scanned))
    assert.deepEqual(
      scanned.map((entry) => [entry.name, entry.id, payloadText(entry)]),
      [
        ['a', '1', '[1, 2]'],
        ['b', '2', undefined],
        [undefined, undefined, undefined],
      ],
    )
    assert.deepEqual(scan('[]'), [])
  })

  test('for any JSON value, the kept payload is the JSON the full parser reads, and the forwarded body the one it forwarded', () => {
    fc.assert(
      fc.property(
        fc.jsonValue(),
        fc.constantFrom(undefined, 1, '\t'),
        fc.option(fc.string({ minLength: 1, maxLength: 50 }), { nil: undefined }),
        (value, space, responseTo) => {
          const envelope = { sender: 'web', id: 'm-1', payload: value, responseTo, timeout: 250 }
          const body = JSON.stringify(envelope, null, space)
          const full = fullParse(body)
          const scanned = scan(body)
          if (full === 'refused') {
            // A '__proto__' key fast-check made: the scan refuses it too.
            assert.equal(scanned, undefined)
            return
          }
          assert.ok(scanned instanceof ScannedEnvelope)
          const parsed = (full.value as { payload: unknown }).payload
          const kept = payloadText(scanned)
          if (parsed === null) assert.equal(kept, null)
          else {
            assert.ok(typeof kept === 'string')
            assert.deepEqual(JSON.parse(kept), parsed)
            if (space === undefined) assert.equal(kept, JSON.stringify(parsed))
          }
          // The body the receiver gets reads the same as before, and without indentation it
          // is the very same text.
          const forwarded = forwardedBody(envelopeOf(scanned))
          const before = forwardedBody(envelopeOf(full.value))
          assert.deepEqual(JSON.parse(forwarded), JSON.parse(before))
          if (space === undefined) assert.equal(forwarded, before)
        },
      ),
      { numRuns: 500 },
    )
  })

  test('never takes a body the full parser refuses, and reads what it takes as that parser does', () => {
    const mutated = fc
      .tuple(fc.jsonValue(), fc.nat(), fc.constantFrom('delete', 'insert', 'replace'), fc.string())
      .map(([value, at, how, text]) => {
        const body = JSON.stringify({ sender: 'web', id: 'm-1', payload: value })
        const index = at % body.length
        const piece = text.slice(0, 1) || '"'
        if (how === 'delete') return body.slice(0, index) + body.slice(index + 1)
        if (how === 'insert') return body.slice(0, index) + piece + body.slice(index)
        return body.slice(0, index) + piece + body.slice(index + 1)
      })
    fc.assert(
      fc.property(mutated, (body) => {
        const scanned = scan(body)
        if (scanned === undefined) return
        const full = fullParse(body)
        assert.notEqual(full, 'refused', `the scan took a body the full parser refuses: ${body}`)
        if (full === 'refused') return
        if (!(scanned instanceof ScannedEnvelope)) return
        const value = full.value as { payload?: unknown }
        const kept = payloadText(scanned)
        if (typeof kept === 'string') assert.deepEqual(JSON.parse(kept), value.payload)
      }),
      { numRuns: 2000 },
    )
  })
})

/** The envelope the ingress makes of a body, read either way. */
function envelopeOf(body: unknown): Envelope {
  return parseEnvelope('users.create', body)
}
