// A run on three Node versions prints tens of thousands of lines, and CI logs are often read
// from their tail: a failure on the first version scrolls out of sight behind the passing
// ones. So the run keeps the lines that say what failed, and the summary repeats them.

/** At most this many lines are kept per run; the summary says how many more there were. */
export const MAX_FAILURE_LINES = 80

// ANSI colour codes, stripped before matching and from what is kept.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the escape character is the point.
const ANSI = /\u001b\[[0-9;]*m/g
// turbo prefixes each line of a task with `package:task: `.
const TASK_PREFIX = /^([\w@/.-]+:[\w:-]+: )?(.*)$/

/**
 * Collects, from a run's output, what the spec reporter of node:test marks as failed (`✖`
 * lines, and its closing "failing tests" section without stack frames), TAP's `not ok`, and
 * turbo's lines naming failed tasks. Lines seen twice are kept once.
 */
export class FailureLines {
  readonly #lines: string[] = []
  readonly #seen = new Set<string>()
  #dropped = 0
  #partial = ''
  // The task prefixes whose "failing tests" section is being read.
  readonly #inSection = new Set<string>()

  /** Feeds a chunk of output, as it arrives; lines may be split across chunks. */
  write(chunk: string): void {
    const text = this.#partial + chunk
    const lines = text.split(/\r?\n/)
    this.#partial = lines.pop() ?? ''
    for (const line of lines) this.#line(line)
  }

  /** The lines kept, after the last partial line; a last line says how many were left out. */
  lines(): string[] {
    if (this.#partial !== '') {
      this.#line(this.#partial)
      this.#partial = ''
    }
    return this.#dropped === 0
      ? [...this.#lines]
      : [...this.#lines, `… and ${this.#dropped} more failure lines in the log above`]
  }

  #line(raw: string): void {
    const line = raw.replace(ANSI, '').trimEnd()
    const [, prefix = '', content = ''] = TASK_PREFIX.exec(line) ?? []
    const body = content.trim()
    if (body.startsWith('✖ failing tests')) {
      this.#inSection.add(prefix)
      return
    }
    if (this.#inSection.has(prefix)) {
      // The section ends where the reporter's totals begin (`ℹ tests 12`).
      if (body.startsWith('ℹ ')) this.#inSection.delete(prefix)
      else if (body !== '' && !body.startsWith('at ')) this.#keep(line)
      return
    }
    if (
      body.startsWith('✖ ') ||
      body.startsWith('not ok ') ||
      /^Failed:\s/.test(body) ||
      /^ERROR\s+run failed/.test(body) ||
      /^npm (error|ERR!)/.test(body)
    ) {
      this.#keep(line)
    }
  }

  #keep(line: string): void {
    // The reporter prints a failing test twice (in the stream and in the section), with the
    // same name and duration; keep the first.
    if (this.#seen.has(line)) return
    this.#seen.add(line)
    if (this.#lines.length < MAX_FAILURE_LINES) this.#lines.push(line)
    else this.#dropped++
  }
}
