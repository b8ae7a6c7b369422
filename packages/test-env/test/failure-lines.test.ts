import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FailureLines, MAX_ERROR_LINES, MAX_FAILURE_LINES } from '../src/failure-lines.js'

/** Each line of `text` under turbo's prefix for `task`, as turbo prints a task's output. */
function underTurbo(task: string, text: string): string {
  return text
    .split('\n')
    .map((line) => `${task}: ${line}`)
    .join('\n')
}

// What node:test's spec reporter printed (Node 24.22) for a file that crashed at import and
// one with a failing test in a suite, a failing todo test, a test that timed out, and a test
// that left work running which failed later. Stack frames shortened to one.
const NODE_24_RUN = `file:///tmp/crash.test.mjs:2
throw new TypeError('boom at top level')
      ^

TypeError: boom at top level
    at file:///tmp/crash.test.mjs:2:7

Node.js v24.22.3
✖ crash.test.mjs (105.810144ms)
▶ suite
  ✖ inner fail (1.173855ms)
  ✔ inner ok (0.435323ms)
✖ suite (2.610163ms)
⚠ todo fail (1.459578ms) # TODO
✖ slow (101.498595ms)
✔ leaks (4.474026ms)
ℹ Error: Test "leaks" at mixed.test.mjs:9:1 generated asynchronous activity after the test ended.
ℹ tests 6
ℹ fail 2
ℹ duration_ms 1269.997213

✖ failing tests:

test at crash.test.mjs:1:1
✖ crash.test.mjs (105.810144ms)
  'test failed'

test at mixed.test.mjs:4:3
✖ inner fail (1.173855ms)
  AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:
  
  1 !== 2
  
      at TestContext.<anonymous> (file:///tmp/mixed.test.mjs:4:39)
    generatedMessage: true,
    code: 'ERR_ASSERTION',
    actual: 1,
    expected: 2,
    operator: 'strictEqual',
    diff: 'simple'
  }

test at mixed.test.mjs:7:1
⚠ todo fail (1.459578ms) # TODO
  AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:
  
  3 !== 4

test at mixed.test.mjs:8:1
✖ slow (101.498595ms)
  'test timed out after 100ms'
npm error Lifecycle script \`test\` failed with error:
npm error code 1
npm error path /work/packages/core`

test('from the spec reporter: where each failing test is, its name and its error, a crash with its reason, no todo', () => {
  const failures = new FailureLines()
  failures.write(underTurbo('core:test', NODE_24_RUN))
  failures.write('\n ERROR  run failed: command  exited (1)\nFailed:    core#test\n')
  assert.deepEqual(failures.lines(), [
    'core:test: ℹ Error: Test "leaks" at mixed.test.mjs:9:1 generated asynchronous activity after the test ended.',
    'core:test: test at crash.test.mjs:1:1',
    'core:test: ✖ crash.test.mjs (105.810144ms)',
    "core:test:   'test failed' (TypeError: boom at top level)",
    'core:test: test at mixed.test.mjs:4:3',
    'core:test: ✖ inner fail (1.173855ms)',
    'core:test:   AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:',
    'core:test:   1 !== 2',
    'core:test:   generatedMessage: true,',
    "core:test:   code: 'ERR_ASSERTION',",
    'core:test:   actual: 1,',
    'core:test:   expected: 2,',
    'core:test: test at mixed.test.mjs:8:1',
    'core:test: ✖ slow (101.498595ms)',
    "core:test:   'test timed out after 100ms'",
    'core:test: npm error Lifecycle script `test` failed with error:',
    ' ERROR  run failed: command  exited (1)',
    'Failed:    core#test',
  ])
  assert.equal(MAX_ERROR_LINES, 6)
})

test('a run that ended without the closing section keeps the failing tests as they ran; TAP too', () => {
  const failures = new FailureLines()
  failures.write('exorelay:test: ✔ passes (1ms)\nexorelay:test: ▶ a suite\n')
  failures.write('exorelay:test:   ✖ breaks (2ms)\nexorelay:test: ✖ a suite (3ms)\n')
  failures.write('bench:test: not ok 3 - a TAP failure\nbench:test: not ok 4 - later # TODO\n')
  assert.deepEqual(failures.lines(), [
    'exorelay:test: ✖ breaks (2ms)',
    'exorelay:test: ✖ a suite (3ms)',
    'bench:test: not ok 3 - a TAP failure',
  ])
})

test('lines split across chunks, in colour, on two streams at once, are read whole', () => {
  const failures = new FailureLines()
  failures.write('core:test: \u001b[31m✖ brea', 'stdout')
  failures.write('core:test: npm error code 1\n', 'stderr')
  failures.write('ks (2ms)\u001b[39m\r\n', 'stdout')
  assert.deepEqual(failures.lines(), ['core:test: npm error code 1', 'core:test: ✖ breaks (2ms)'])
})

test('past the cap, a line says how many more there were; turbo lines always come', () => {
  const failures = new FailureLines()
  for (let i = 0; i < MAX_FAILURE_LINES + 5; i++) failures.write(`ℹ Error: number ${i}\n`)
  failures.write('Failed:    core#test\n')
  const lines = failures.lines()
  assert.equal(lines.length, MAX_FAILURE_LINES + 2)
  assert.deepEqual(lines.slice(-2), [
    '… and 5 more failure lines in the log above',
    'Failed:    core#test',
  ])
})
