// A run on three Node versions prints tens of thousands of lines, and CI logs are often read
// from their tail: a failure on the first version scrolls out of sight behind the passing
// ones. So the run keeps the lines that say what failed, and the summary repeats them.

/** At most this many lines about failing tests are kept per run; turbo's lines come on top. */
export const MAX_FAILURE_LINES = 80
/** At most this many lines of each failing test's error (stack frames are never kept). */
export const MAX_ERROR_LINES = 6

// ANSI colour codes, stripped before matching and from what is kept.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the escape character is the point.
const ANSI = /\u001b\[[0-9;]*m/g
// turbo prefixes each line of a task with `package:task: `.
const TASK_PREFIX = /^([\w@/.-]+:[\w:-]+: )?(.*)$/
// What a crashing test file prints on stderr before the reporter says only 'test failed'.
const CRASH = /^\w*(Error|Exception)( \[\w+\])?: /
const NOT_COUNTED = /# (TODO|SKIP)\b/

/** What is known of one turbo task's output (or of the whole output, without turbo). */
interface Task {
  /** Failing tests seen as they ran: given up for the closing section, which has errors. */
  readonly running: string[]
  inSection: boolean
  /** The section's `test at` line, kept once its test is known to count. */
  testAt: string | undefined
  /** The failing test of the section whose error is being read. */
  block: { readonly counted: boolean; lines: number } | undefined
  /** The errors test files printed as they crashed, and whether they were told yet. */
  readonly crashes: string[]
  crashesTold: boolean
  npmSeen: boolean
}

/**
 * Collects, from a run's output, what failed:
 * - each failing test of node:test's spec reporter, from its closing "failing tests" section:
 *   where it is (`test at file:line`), its name, and the first lines of its error; or, for a
 *   run that ended without that section, the `✖` lines as they ran;
 * - for a test file that crashed, the error it printed before the reporter said 'test failed';
 * - the reporter's `ℹ Error:` lines (work a test left running that failed later), TAP's
 *   `not ok`, the first `npm error` of each task, and turbo's lines naming failed tasks.
 *
 * Failing `todo` tests are left out: they do not fail the run. A line that the code under test
 * prints and that looks like one of these is kept too: the log says which it is.
 */
export class FailureLines {
  readonly #tasks = new Map<string, Task>()
  readonly #kept: string[] = []
  readonly #turbo: string[] = []
  #dropped = 0
  // Per stream: stdout and stderr arrive in chunks of their own.
  readonly #partial = { stdout: '', stderr: '' }

  /** Feeds a chunk of output, as it arrives; lines may be split across chunks. */
  write(chunk: string, stream: 'stdout' | 'stderr' = 'stdout'): void {
    const lines = (this.#partial[stream] + chunk).split(/\r?\n/)
    this.#partial[stream] = lines.pop() ?? ''
    for (const line of lines) this.#line(line)
  }

  /** The lines kept; a line says how many more there were. */
  lines(): string[] {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.#partial[stream] !== '') this.#line(this.#partial[stream])
      this.#partial[stream] = ''
    }
    const running = [...this.#tasks.values()].flatMap((task) => task.running.splice(0))
    for (const line of running) this.#keep(line)
    const more =
      this.#dropped === 0 ? [] : [`… and ${this.#dropped} more failure lines in the log above`]
    return [...this.#kept, ...more, ...this.#turbo]
  }

  #task(prefix: string): Task {
    let task = this.#tasks.get(prefix)
    if (task === undefined) {
      task = {
        running: [],
        inSection: false,
        testAt: undefined,
        block: undefined,
        crashes: [],
        crashesTold: false,
        npmSeen: false,
      }
      this.#tasks.set(prefix, task)
    }
    return task
  }

  #line(raw: string): void {
    const line = raw.replace(ANSI, '').trimEnd()
    const [, prefix = '', content = ''] = TASK_PREFIX.exec(line) ?? []
    const body = content.trim()
    if (/^Failed:\s/.test(body) || /^ERROR\s+run failed/.test(body)) {
      if (!this.#turbo.includes(line)) this.#turbo.push(line)
      return
    }
    const task = this.#task(prefix)
    if (body.startsWith('✖ failing tests')) {
      task.inSection = true
      task.running.length = 0
      return
    }
    if (task.inSection && this.#sectionLine(task, prefix, content, body)) return
    if (body.startsWith('✖ ') || body.startsWith('not ok ')) {
      if (!NOT_COUNTED.test(body) && !task.running.includes(`${prefix}${body}`)) {
        task.running.push(`${prefix}${body}`)
      }
    } else if (body.startsWith('ℹ Error: ')) {
      this.#keep(line)
    } else if (/^npm (error|ERR!)/.test(body)) {
      if (!task.npmSeen) this.#keep(line)
      task.npmSeen = true
    } else if (CRASH.test(content)) {
      task.crashes.push(content)
    }
  }

  /** A line of the closing "failing tests" section; `false` once the section has ended. */
  #sectionLine(task: Task, prefix: string, content: string, body: string): boolean {
    if (body === '' || body.startsWith('at ')) return true
    if (body.startsWith('test at ')) {
      task.block = undefined
      task.testAt = `${prefix}${body}`
      return true
    }
    if (body.startsWith('✖ ') || body.startsWith('⚠ ')) {
      const counted = body.startsWith('✖ ') && !NOT_COUNTED.test(body)
      task.block = { counted, lines: 0 }
      if (counted) {
        if (task.testAt !== undefined) this.#keep(task.testAt)
        this.#keep(`${prefix}${body}`)
      }
      task.testAt = undefined
      return true
    }
    if (content.startsWith(' ') && task.block !== undefined) {
      const block = task.block
      if (block.counted && block.lines < MAX_ERROR_LINES) {
        block.lines++
        this.#keep(`${prefix}  ${body}${body === "'test failed'" ? this.#why(task) : ''}`)
      }
      return true
    }
    task.inSection = false
    task.block = undefined
    return false
  }

  /**
   * For a file that crashed, the reporter says only 'test failed'; what it printed before says
   * why. One crash in the task is this file's; of several, which is whose is not known, so
   * the first such file gets them all.
   */
  #why(task: Task): string {
    if (task.crashesTold || task.crashes.length === 0) return ''
    task.crashesTold = true
    return task.crashes.length === 1
      ? ` (${task.crashes[0]})`
      : ` (the files that crashed printed: ${task.crashes.join('; ')})`
  }

  #keep(line: string): void {
    if (this.#kept.length < MAX_FAILURE_LINES) this.#kept.push(line)
    else this.#dropped++
  }
}
