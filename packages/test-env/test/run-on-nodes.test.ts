import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { majorsToRun, runOnNodes, summary } from '../src/run-on-nodes.js'

const current = Number(process.versions.node.split('.')[0])
/** The running Node, as a run's runtime: nothing is fetched. */
const thisNode = async () => ({ version: process.versions.node, binDir: dirname(process.execPath) })

test('EXORELAY_TEST_NODES replaces the majors given; "current" is the running Node', () => {
  assert.deepEqual(majorsToRun([20, 22, 24], undefined), [20, 22, 24])
  assert.deepEqual(majorsToRun([20, 22, 24], ''), [20, 22, 24])
  assert.deepEqual(majorsToRun([20, 22, 24], '22 24'), [22, 24])
  assert.deepEqual(majorsToRun([20, 22, 24], '22,24'), [22, 24])
  assert.deepEqual(majorsToRun([20, 22, 24], 'current'), [current])
  assert.throws(
    () => majorsToRun([20], 'lts'),
    /'lts' is not a Node major version; write majors such as "22 24", or "current"/,
  )
})

test('each run has that Node first on PATH and its version in EXORELAY_TEST_NODE', async () => {
  const lines: string[] = []
  const runs = await runOnNodes(
    [current],
    process.execPath,
    [
      '-e',
      // Exit code 0 only when `node` on PATH is the one given and the version is announced.
      `const { execFileSync } = require('node:child_process');
       const onPath = execFileSync('node', ['-p', 'process.execPath']).toString().trim();
       process.exit(onPath === ${JSON.stringify(process.execPath)} && process.env.EXORELAY_TEST_NODE === ${JSON.stringify(process.versions.node)} ? 0 : 3)`,
    ],
    {
      resolve: thisNode,
      log: (line) => lines.push(line),
    },
  )
  assert.equal(runs.length, 1)
  assert.equal(runs[0]?.code, 0)
  assert.match(lines[0] ?? '', new RegExp(`^test-env: Node ${process.versions.node}: `))
})

test('a version that cannot be fetched, or fails, does not stop the others; the summary says which', async () => {
  const runs = await runOnNodes([97, current], process.execPath, ['-e', 'process.exit(5)'], {
    resolve: async (major) => {
      if (major === 97) throw new Error('Node 97 is not cached')
      return thisNode()
    },
    log: () => {},
  })
  assert.deepEqual(
    runs.map((run) => [run.major, run.code]),
    [
      [97, null],
      [current, 5],
    ],
  )
  const lines = summary(runs).split('\n')
  assert.equal(lines[0], 'Node 97: not run')
  assert.match(
    lines[1] ?? '',
    new RegExp(`^Node ${process.versions.node}: failed \\(exit code 5\\) in \\d+ s$`),
  )
  assert.equal(lines[2], '  (nothing in its output said what: see the log)')
})

test('the summary repeats, under a failed run, what its output said failed; a passed run has one line', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'test-env-failures-'))
  try {
    await writeFile(
      join(dir, 'some.test.mjs'),
      `import { test } from 'node:test'
       import assert from 'node:assert/strict'
       test('adds up', () => assert.equal(1 + 1, 2))
       test('the answer is right', () => assert.equal(6 * 7, 43, 'six times seven'))`,
    )
    // Set in this file's process by the test runner, it would make the inner `node --test`
    // report to this runner instead of printing and exiting 1.
    const context = process.env.NODE_TEST_CONTEXT
    delete process.env.NODE_TEST_CONTEXT
    t.after(() => {
      if (context !== undefined) process.env.NODE_TEST_CONTEXT = context
    })
    let printed = ''
    const runs = await runOnNodes(
      [current],
      process.execPath,
      ['--test', '--test-reporter=spec', join(dir, 'some.test.mjs')],
      {
        resolve: thisNode,
        log: () => {},
        // Kept out of this file's own report, where its ✖ lines would read as this suite's.
        output: (chunk) => {
          printed += chunk
        },
      },
    )
    assert.equal(runs[0]?.code, 1)
    assert.match(printed, /✔ adds up/, 'the output still passes through')
    const lines = summary(runs).split('\n')
    assert.match(lines[0] ?? '', /failed \(exit code 1\)/)
    const failures = lines.slice(1)
    assert.ok(
      failures.some((line) => /^ {2}✖ the answer is right/.test(line)),
      failures.join('\n'),
    )
    assert.ok(
      failures.some((line) => line.includes('six times seven')),
      failures.join('\n'),
    )
    assert.ok(!failures.some((line) => line.includes('adds up')), failures.join('\n'))
    // Stack frames stay in the log; the failing test is named once.
    assert.ok(!failures.some((line) => /^\s*at /.test(line)), failures.join('\n'))
    assert.equal(failures.filter((line) => line.includes('✖ the answer is right')).length, 1)

    const passed = await runOnNodes(
      [current],
      process.execPath,
      ['-e', 'console.log("✖ not a test")'],
      {
        resolve: thisNode,
        log: () => {},
        output: () => {},
      },
    )
    assert.equal(summary(passed).split('\n').length, 1)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('a process the command left holding its output does not hold the run: it ends, and says so', async () => {
  const lines: string[] = []
  const runs = await runOnNodes(
    [current],
    process.execPath,
    [
      '-e',
      // A grandchild that inherits the output pipe and outlives its parent; it prints its pid
      // so that the test can end it.
      `const { spawn } = require('node:child_process');
       const left = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'inherit', detached: true });
       console.log('left ' + left.pid);
       left.unref()`,
    ],
    {
      resolve: thisNode,
      log: () => {},
      output: (chunk) => lines.push(chunk),
      drainTime: 300,
    },
  )
  const pid = Number(/left (\d+)/.exec(lines.join(''))?.[1])
  try {
    assert.equal(runs[0]?.code, 0)
    assert.match(
      runs[0]?.failures.at(-1) ?? '',
      /exited, but a process it started still held its output 300 ms later: the run ends without it$/,
    )
    assert.match(lines.join(''), /test-env: .* still held its output 300 ms later/)
  } finally {
    if (pid > 0) process.kill(pid)
  }
})
