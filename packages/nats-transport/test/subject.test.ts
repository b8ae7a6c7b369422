import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ErrorCodes, MAX_NAME_LENGTH } from '@exorelay/core'
import fc from 'fast-check'
import {
  cancelSubject,
  checkSubjectPrefix,
  decodeName,
  decodeSubject,
  encodeName,
  encodeSubject,
} from '../src/subject.js'

// What nats-server accepts in a published subject: non-empty tokens separated by dots, no
// whitespace, no wildcard tokens; ExoRelay keeps to printable ASCII on top of that.
function assertSafeSubject(subject: string): void {
  assert.match(subject, /^[!-~]+$/, `'${subject}' is printable ASCII without whitespace`)
  for (const token of subject.split('.')) {
    assert.notEqual(token, '', `'${subject}' has no empty token`)
    assert.doesNotMatch(token, /[*>]/, `'${subject}' has no wildcard`)
  }
}

describe('encodeSubject', () => {
  test('a dotted name keeps its dots as token separators under the prefix', () => {
    assert.equal(encodeSubject('users.create'), 'exorelay.users.create')
    assert.equal(encodeSubject('users.not-created', 'prod.eu'), 'prod.eu.users.not-created')
    assert.equal(encodeSubject('__error'), 'exorelay.__error')
  })

  test('odd names become safe subjects that decode to the same name', () => {
    const odd: Array<[string, string]> = [
      ['hello world', 'exorelay.hello%20world'],
      ['users.*', 'exorelay.users.%2A'],
      ['users.>', 'exorelay.users.%3E'],
      ['*', 'exorelay.%2A'],
      ['a..b', 'exorelay.a.%.b'],
      ['.', 'exorelay.%.%'],
      ['.leading', 'exorelay.%.leading'],
      ['trailing.', 'exorelay.trailing.%'],
      ['tab\there', 'exorelay.tab%09here'],
      ['100%', 'exorelay.100%25'],
      ['$SYS.x', 'exorelay.%24SYS.x'],
      ['café', 'exorelay.caf%u00E9'],
      ['ユーザー.作成', 'exorelay.%u30E6%u30FC%u30B6%u30FC.%u4F5C%u6210'],
      ['🚀', 'exorelay.%uD83D%uDE80'],
    ]
    for (const [name, subject] of odd) {
      assert.equal(encodeSubject(name), subject)
      assertSafeSubject(subject)
      assert.equal(decodeSubject(subject), name)
    }
  })

  test('a lone surrogate survives the trip', () => {
    const name = 'half\uD800'
    assert.equal(decodeSubject(encodeSubject(name)), name)
  })

  test('any name round-trips to a safe subject (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 60, unit: 'binary' }), (name) => {
        const subject = encodeSubject(name)
        assertSafeSubject(subject)
        assert.equal(decodeSubject(subject), name)
      }),
    )
  })

  test('distinct names never share a subject (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        fc.pre(a !== b && a !== '' && b !== '')
        assert.notEqual(encodeName(a), encodeName(b))
      }),
    )
  })

  test('the longest name stays within the server protocol line of 4 KiB', () => {
    const worst = '中'.repeat(MAX_NAME_LENGTH)
    assert.ok(encodeSubject(worst).length < 3_200)
  })
})

describe('decodeSubject', () => {
  test('a subject under another prefix is not a message subject', () => {
    assert.equal(decodeSubject('other.users.create'), undefined)
    assert.equal(decodeSubject('exorelayx.users'), undefined)
  })

  test('malformed escapes are rejected, not guessed', () => {
    for (const encoded of ['a%2', 'a%zz', 'a%u12', 'a%e9', 'a b', 'a..b', 'a.*', '']) {
      assert.equal(decodeName(encoded), undefined, `'${encoded}' is not an encoded name`)
    }
  })
})

describe('cancelSubject', () => {
  test("a name's cancellations travel beside its messages, under a token of their own", () => {
    assert.equal(cancelSubject('users.create', 'exorelay'), 'exorelay.~cancel.users.create')
    assert.equal(cancelSubject('café', 'prod.eu'), 'prod.eu.~cancel.caf%u00E9')
    assert.equal(decodeSubject(cancelSubject('users.create', 'exorelay')), undefined)
  })

  test('no message subject is a cancellation subject (property)', () => {
    const name = fc.string({ minLength: 1, unit: 'binary' })
    // The names likeliest to collide: those that spell a cancellation subject out.
    const lookalike = name.map((tail) => `~cancel.${tail}`)
    fc.assert(
      fc.property(name, fc.oneof(name, lookalike), (cancelled, other) => {
        const subject = cancelSubject(cancelled, 'exorelay')
        assertSafeSubject(subject)
        assert.equal(subject.split('.')[1], '~cancel')
        assert.notEqual(encodeSubject(other).split('.')[1], '~cancel')
      }),
    )
  })
})

describe('checkSubjectPrefix', () => {
  test('accepts one or more plain tokens', () => {
    assert.equal(checkSubjectPrefix('exorelay'), 'exorelay')
    assert.equal(checkSubjectPrefix('prod.eu-1'), 'prod.eu-1')
  })

  test('refuses empty tokens, wildcards, whitespace and non-strings with an invalid option', () => {
    for (const prefix of ['', 'a..b', '.a', 'a.', 'a.*', 'a.>', 'a b', 'ä', 42, undefined]) {
      assert.throws(() => checkSubjectPrefix(prefix), { code: ErrorCodes.INVALID_OPTION })
    }
  })
})
