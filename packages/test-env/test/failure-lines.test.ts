import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FailureLines, MAX_FAILURE_LINES } from '../src/failure-lines.js'

test('lines split across chunks, with turbo prefixes and colours, are read whole', () => {
  const failures = new FailureLines()
  failures.write('core:test: ✔ passes (1ms)\ncore:test: \u001b[31m✖ brea')
  failures.write('ks (2ms)\u001b[39m\r\nexorelay:test: not ok 3 - a TAP failure\n')
  failures.write(' ERROR  run failed: command  exited (1)\nFailed:    core#test\n')
  failures.write('npm error Lifecycle script `test` failed')
  assert.deepEqual(failures.lines(), [
    'core:test: ✖ breaks (2ms)',
    'exorelay:test: not ok 3 - a TAP failure',
    ' ERROR  run failed: command  exited (1)',
    'Failed:    core#test',
    'npm error Lifecycle script `test` failed',
  ])
})

test("the reporter's failing tests section is kept without stack frames, per task", () => {
  const failures = new FailureLines()
  failures.write(
    [
      'core:test: ✖ breaks (2ms)',
      'core:test: ✖ failing tests:',
      'core:test: ',
      'core:test: test at test/a.test.ts:3:1',
      'core:test: ✖ breaks (2ms)',
      'core:test:   AssertionError [ERR_ASSERTION]: 1 == 2',
      'core:test:       at TestContext.<anonymous> (test/a.test.ts:3:20)',
      'exorelay:test: ✔ something else passes (1ms)',
      'core:test: ℹ tests 2',
      'core:test: ℹ fail 1',
      '',
    ].join('\n'),
  )
  assert.deepEqual(failures.lines(), [
    'core:test: ✖ breaks (2ms)',
    'core:test: test at test/a.test.ts:3:1',
    'core:test:   AssertionError [ERR_ASSERTION]: 1 == 2',
  ])
})

test('past the cap, the last line says how many more there were', () => {
  const failures = new FailureLines()
  for (let i = 0; i < MAX_FAILURE_LINES + 5; i++) failures.write(`✖ test ${i}\n`)
  const lines = failures.lines()
  assert.equal(lines.length, MAX_FAILURE_LINES + 1)
  assert.equal(lines.at(-1), '… and 5 more failure lines in the log above')
})
