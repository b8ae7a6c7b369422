import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { ExoServiceErrorCodes } from '../src/errors.js'

// docs/reference/errors.md keeps a table of ExoService's codes, as it does of ExoRelay's
// (packages/core/test/errors-doc.test.ts): a new code fails here until the table says when it
// happens and how to fix it, and a row for a code that no longer exists fails too.

const errorsDoc = readFileSync(
  new URL('../../../docs/reference/errors.md', import.meta.url),
  'utf8',
)
const heading = '\n## ExoService\n'
const section = errorsDoc.slice(errorsDoc.indexOf(heading))
const rows = [...errorsDoc.matchAll(/^\| `(EXOSERVICE_ERR_[A-Z_]+)` +\|(.*)$/gm)]
const documented = rows.map((match) => match[1]!)
const codes: string[] = Object.values(ExoServiceErrorCodes)

test('docs/reference/errors.md has an ExoService section', () => {
  assert.ok(errorsDoc.includes(heading), 'add a "## ExoService" section with the codes table')
})

test('every ExoService error code is documented in the ExoService section', () => {
  const missing = codes.filter((code) => !documented.includes(code))
  assert.deepEqual(missing, [])
  const outside = documented.filter((code) => !section.includes(`| \`${code}\``))
  assert.deepEqual(outside, [], 'the ExoService codes belong under "## ExoService"')
})

test('docs/reference/errors.md documents no ExoService code that does not exist, and each once', () => {
  const unknown = documented.filter((code) => !codes.includes(code))
  assert.deepEqual(unknown, [])
  assert.equal(new Set(documented).size, documented.length)
})

test('each ExoService row says when the error happens and how to fix it', () => {
  for (const [, code, rest] of rows) {
    const cells = rest!.split(/(?<!\\)\|/).map((cell) => cell.trim())
    assert.ok(cells[0] !== '' && cells[1] !== '', `${code}: fill in "when" and "how to fix"`)
  }
})
