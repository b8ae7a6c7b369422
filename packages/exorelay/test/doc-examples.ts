import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'

/** The repository root, where the README and docs/ are. */
export const repositoryRoot = new URL('../../../', import.meta.url)

/** A fenced code block of a Markdown document. */
export interface Fence {
  /** The first word of the info string (`ts` in ```` ```ts title ````); `''` when untagged. */
  readonly language: string
  /** The block's text, its fence's indentation removed. */
  readonly code: string
  /** The 1-based line of the opening fence. */
  readonly line: number
}

/**
 * The fenced blocks of a Markdown text, indented ones (in list items) included: a block the
 * checks should see must not escape them by the way it is written.
 */
export function fencesIn(text: string): Fence[] {
  const lines = text.split('\n')
  const fences: Fence[] = []
  for (let index = 0; index < lines.length; index++) {
    const opening = /^( *)(`{3,}|~{3,})\s*([^`\s]*)/.exec(lines[index]!)
    if (opening === null) continue
    const [, indent = '', marker = '', language = ''] = opening
    const closing = new RegExp(`^ *${marker[0]}{${marker.length},}\\s*$`)
    const body: string[] = []
    let end = index + 1
    while (end < lines.length && !closing.test(lines[end]!)) {
      const line = lines[end]!
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line.trimStart())
      end++
    }
    fences.push({
      language,
      code: body.length === 0 ? '' : `${body.join('\n')}\n`,
      line: index + 1,
    })
    index = end
  }
  return fences
}

/** The fenced blocks of a document under the repository root. */
export function fencesOf(document: string): Fence[] {
  return fencesIn(readFileSync(new URL(document, repositoryRoot), 'utf8'))
}

/**
 * The tags the checks read as TypeScript and as JavaScript: a block tagged with one of them is
 * type-checked (and run, where its document's examples run). Any other tag of a language that
 * compiles to JavaScript (`tsx`, `mts`, `cjs`, …) is refused by docs-fences.test.ts, so that no block
 * escapes the checks by its tag.
 */
export const checkedTags = {
  ts: ['ts', 'typescript'],
  js: ['js', 'javascript', 'mjs'],
} as const

/**
 * The code of every fenced block in `language` of a document under the root: `ts` and `js`
 * take every tag the checks read as such, any other language (`sh`, `json`) its own tag.
 */
export function codeBlocks(document: string, language: string): string[] {
  const tags: readonly string[] =
    language === 'ts' || language === 'js' ? checkedTags[language] : [language]
  return fencesOf(document)
    .filter((fence) => tags.includes(fence.language))
    .map((fence) => fence.code)
}

/**
 * The documents whose code blocks the docs tests check: the README, every Markdown document
 * under docs/ but the example projects' (runnable workspaces that CI runs as such), and every
 * package's README.
 */
export function checkedDocuments(): string[] {
  const docs = readdirSync(new URL('docs/', repositoryRoot), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.md') && !file.startsWith('examples/'))
    .map((file) => `docs/${file}`)
  const readmes = readdirSync(new URL('packages/', repositoryRoot))
    .map((name) => `packages/${name}/README.md`)
    .filter((readme) => existsSync(new URL(readme, repositoryRoot)))
  return ['README.md', ...docs.sort(), ...readmes.sort()]
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
