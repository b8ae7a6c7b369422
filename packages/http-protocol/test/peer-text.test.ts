import assert from 'node:assert/strict'
import { test } from 'node:test'
import { QUOTED_TEXT_LENGTH, textStart } from '../src/peer-text.js'

const chunks = (...texts: string[]): Buffer[] => texts.map((text) => Buffer.from(text))
const size = (parts: Buffer[]): number => parts.reduce((sum, part) => sum + part.length, 0)
// How the shared undici exchange reads an answer's body: its chunks joined, then quoted.
const bodyText = (parts: Buffer[], length: number): string =>
  textStart(Buffer.concat(parts, length).toString('utf8'))

test('bodyText returns a short body trimmed and whole', () => {
  const parts = chunks('  no route ', '\n')
  assert.equal(bodyText(parts, size(parts)), 'no route')
  assert.equal(bodyText([], 0), '')
})

test('bodyText cuts a long body to its first 200 characters', () => {
  const parts = chunks('x'.repeat(300), 'y'.repeat(200))
  assert.equal(bodyText(parts, size(parts)), `${'x'.repeat(QUOTED_TEXT_LENGTH)}…`)
})

test('bodyText never splits a character made of two UTF-16 units', () => {
  const parts = chunks('😀'.repeat(300))
  const text = bodyText(parts, size(parts))
  assert.equal(Array.from(text).length, QUOTED_TEXT_LENGTH + 1)
  assert.ok(text.endsWith('😀…'))
})

test('bodyText joins a character split across two chunks', () => {
  const bytes = Buffer.from('grüße')
  const parts = [bytes.subarray(0, 3), bytes.subarray(3)]
  assert.equal(bodyText(parts, bytes.length), 'grüße')
})
