import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { ErrorCodes } from '../src/errors.js'
import {
  MAX_ISSUE_COUNT,
  MAX_ISSUE_TEXT,
  MAX_ISSUES,
  MAX_QUOTED,
  QUOTE_PREVIEW,
} from '../src/payload-validation.js'

const table = readFileSync(new URL('../../../docs/reference/errors.md', import.meta.url), 'utf8')
const documented = [...table.matchAll(/^\| `(EXORELAY_ERR_[A-Z_]+)` +\|/gm)].map(
  (match) => match[1],
)

test('every error code is documented in docs/reference/errors.md', () => {
  const missing = Object.values(ErrorCodes).filter((code) => !documented.includes(code))
  assert.deepEqual(missing, [])
})

test('docs/reference/errors.md documents no code that does not exist, and each once', () => {
  const codes: string[] = Object.values(ErrorCodes)
  const unknown = documented.filter((code) => !codes.includes(code!))
  assert.deepEqual(unknown, [])
  assert.equal(new Set(documented).size, documented.length)
})

test('the caps the docs and TSDoc state are the ones payload validation applies', () => {
  const row = table.split('\n').find((line) => line.startsWith('| `EXORELAY_ERR_PAYLOAD_INVALID`'))
  const source = readFileSync(new URL('../src/errors.ts', import.meta.url), 'utf8')
  for (const stated of [
    `first ${MAX_ISSUES} issues`,
    `each at most ${MAX_ISSUE_TEXT} characters`,
    `more than ${MAX_QUOTED} characters in a message cut to its first ${QUOTE_PREVIEW}`,
    `up to ${MAX_ISSUE_COUNT.toLocaleString('en-US')}`,
  ]) {
    assert.ok(row?.includes(stated), `errors.md's PAYLOAD_INVALID row says '${stated}'`)
  }
  const tsdoc = [
    ...source.matchAll(/at most (\d+)(?: issues)?, each path and message at most (\d+)/g),
  ]
  assert.equal(tsdoc.length, 2, 'the TSDoc of PayloadInvalidError states both caps twice')
  for (const [, issues, text] of tsdoc) {
    assert.deepEqual([Number(issues), Number(text)], [MAX_ISSUES, MAX_ISSUE_TEXT])
  }
})
