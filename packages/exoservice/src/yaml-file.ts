import { readFile } from 'node:fs/promises'
import { type Document, isNode, LineCounter, parseDocument } from 'yaml'
import { ExoServiceError, type ExoServiceErrorCode } from './errors.js'

/** A YAML file, parsed, with a way to fail at one of its nodes. */
export interface YamlFile {
  /** The parsed document (without errors: those were thrown). */
  doc: Document
  /**
   * Throws an {@link ExoServiceError} `<file>:<line>: <message>`, the line being that of `at`
   * when it is a node of `doc`.
   */
  fail(message: string, at?: unknown): never
  /** The 1-based line of `node`, when it is a node of `doc`. */
  lineOf(node: unknown): number | undefined
}

/**
 * The text of `file`. A missing file throws `<file>: no such file. <missingFix>`, any other
 * read error `<file>: cannot be read (…)`, both coded `code`.
 */
export async function readYamlText(
  file: string,
  code: ExoServiceErrorCode,
  missingFix: string,
): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (cause) {
    const missing = (cause as NodeJS.ErrnoException).code === 'ENOENT'
    throw new ExoServiceError(
      code,
      missing
        ? `${file}: no such file. ${missingFix}`
        : `${file}: cannot be read (${(cause as Error).message}). Check the file's permissions.`,
      { cause, file },
    )
  }
}

/**
 * Parses the YAML `text` of `file`, duplicate keys refused. Text that is not YAML throws
 * `<file>:<line>: is not valid YAML: <the parser's reason>. Fix the YAML at that line.`,
 * coded `code`; errors of the content are the caller's, through `fail`.
 */
export function parseYaml(text: string, file: string, code: ExoServiceErrorCode): YamlFile {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false })
  const [yamlError] = doc.errors
  if (yamlError !== undefined) {
    const line = lines.linePos(yamlError.pos[0]).line
    // The parser's first line, without its own position: the message starts with ours.
    const reason = yamlError.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')
    throw new ExoServiceError(
      code,
      `${file}:${line}: is not valid YAML: ${reason}. Fix the YAML at that line.`,
      { file, line, cause: yamlError },
    )
  }
  const lineOf = (node: unknown): number | undefined =>
    isNode(node) && node.range !== undefined && node.range !== null
      ? lines.linePos(node.range[0]).line
      : undefined
  return {
    doc,
    lineOf,
    fail(message, at) {
      const line = lineOf(at)
      throw new ExoServiceError(
        code,
        `${file}${line === undefined ? '' : `:${line}`}: ${message}`,
        {
          file,
          line,
        },
      )
    },
  }
}
