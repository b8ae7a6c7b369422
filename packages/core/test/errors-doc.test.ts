import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { ErrorCodes } from '../src/errors.js'

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
