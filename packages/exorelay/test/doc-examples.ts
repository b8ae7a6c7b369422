import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'

/** The repository root, where the README and docs/ are. */
export const repositoryRoot = new URL('../../../', import.meta.url)

/** The code of every fenced block in `language` (`ts`, `js`, `sh`, `json`) of a document under the root. */
export function codeBlocks(document: string, language: string): string[] {
  const text = readFileSync(new URL(document, repositoryRoot), 'utf8')
  const fence = new RegExp(`^\`\`\`${language}\\n([\\s\\S]*?)^\`\`\`$`, 'gm')
  return [...text.matchAll(fence)].map((match) => match[1]!)
}

export interface ExampleRun {
  /** Where the example is written; its directory is the working directory. */
  readonly file: string
  /** Node.js arguments before the file, e.g. `['--import', 'tsx']`. */
  readonly nodeArgs: readonly string[]
  /** Added to this process's environment. */
  readonly env: Record<string, string>
  /** What a failure calls the example, e.g. `README.md example 2`. */
  readonly name: string
  /** Milliseconds the example may run before it is killed and fails. Default 30_000. */
  readonly timeout?: number
}

/**
 * Writes `code` to a file, runs it with Node.js and asserts that it exits with 0 and that its
 * output keeps every promise of the form `console.log(x) // what it prints`. A block that
 * imports node:test is a test file, and runs the way users run theirs (`--test`).
 */
export async function runExample(code: string, run: ExampleRun): Promise<void> {
  writeFileSync(run.file, code)
  const test = code.includes("from 'node:test'") ? ['--test'] : []
  // node --test marks the files it runs as its children (NODE_TEST_CONTEXT); a child that
  // inherits the mark reports to this runner instead of failing, so an example that is a
  // failing test file would exit 0. Examples run the way users run them: without it.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env
  const timeout = run.timeout ?? 30_000
  const child = spawn(process.execPath, [...run.nodeArgs, ...test, run.file], {
    cwd: dirname(run.file),
    env: { ...env, ...run.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // An example that never exits fails here, named, instead of hanging the test file.
    timeout,
    killSignal: 'SIGKILL',
  })
  let output = ''
  child.stdout.on('data', (chunk) => {
    output += chunk
  })
  child.stderr.on('data', (chunk) => {
    output += chunk
  })
  const [exitCode, signal] = await once(child, 'exit')
  if (signal === 'SIGKILL') assert.fail(`${run.name} did not exit within ${timeout} ms:\n${output}`)
  assert.equal(exitCode, 0, `${run.name} failed:\n${output}`)
  for (const [, printed] of code.matchAll(/console\.log\(.*\) \/\/ (.+)$/gm)) {
    assert.ok(
      output.includes(printed!.trim()),
      `expected the output to contain ${printed}:\n${output}`,
    )
  }
}
