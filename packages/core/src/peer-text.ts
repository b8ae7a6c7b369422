/** Characters of a peer's answer text that an error or a log line quotes at most. */
export const QUOTED_TEXT_LENGTH = 200

/**
 * Characters of the bus's own refusal of a credential (403 `EXORELAY_ERR_AUTH_FORBIDDEN`) quoted
 * at most: the bus's sentence ends with its fix, which a cut at `QUOTED_TEXT_LENGTH` loses. It
 * is the bus's bounded text, not a peer's page; the bound stays against a stranger posing as one.
 */
export const FORBIDDEN_TEXT_LENGTH = 1000

/**
 * Characters of an answer's text read at most to find its first sentence: an HTML page puts
 * its message after a head, but a sentence past this point is not worth scanning megabytes for.
 */
const SCANNED_LENGTH = 16_384

/**
 * Characters of the first line searched for a stack trace and paths: ample for a quote of
 * `QUOTED_TEXT_LENGTH`, and short enough that no pattern below costs more than a moment.
 */
const LINE_LENGTH = 2048

/**
 * A peer's answer text as errors, log lines and error replies quote it: one plain line, at
 * most `QUOTED_TEXT_LENGTH` characters. One rule for the body of a single answer, the `error`
 * of a batch result, and the bus's warnings about a receiver, so that a peer can neither fill
 * an error or a log nor carry its internals across: an HTML error page (the original ExoCom
 * answers one, stack included) is reduced to its first sentence.
 *
 * - a page (a text that starts with a tag) is read as a browser shows it: tags removed,
 *   `<head>`, `<script>` and `<style>` dropped with their content, entities (`&lt;`, `&#39;`,
 *   …) decoded, `<br>` and block elements read as line breaks, and any tag the decoding
 *   revealed (`&lt;b&gt;`) removed too. Other text is quoted as written: `Promise<void>` and
 *   `a<b` are not markup;
 * - only the first line is kept, and it ends where a stack trace starts (`    at …`);
 * - absolute file paths (`/home/u/app.js:47:15`, `C:\app\x.js`, `file:///…`) are removed;
 * - whitespace and control characters collapse to single spaces;
 * - past `length` characters (default `QUOTED_TEXT_LENGTH`) the text is cut (by code point: a
 *   surrogate pair is never split) and ends with `…`.
 *
 * The answer's status is not part of it: whoever quotes the text names the status beside it.
 *
 * @example
 * textStart('<html><body><pre>TypeError: boom<br> &nbsp;at f (/srv/x.js:1:2)</pre></body></html>')
 * // 'TypeError: boom'
 */
export function textStart(text: string, length: number = QUOTED_TEXT_LENGTH): string {
  const scanned = prefix(text.trimStart(), SCANNED_LENGTH)
  const line = oneLine(scanned.startsWith('<') ? pageText(scanned) : scanned)
  if (line.length <= length) return line
  // Cut by code point so that a surrogate pair is never split in half.
  const points = Array.from(line)
  if (points.length <= length) return line
  return `${points.slice(0, length).join('').trimEnd()}…`
}

/** At most `length` UTF-16 units of `text`, never ending in half a surrogate pair. */
function prefix(text: string, length: number): string {
  if (text.length <= length) return text
  return isHighSurrogate(text.charCodeAt(length - 1))
    ? text.slice(0, length - 1)
    : text.slice(0, length)
}

/** A tag that decoding entities revealed: `&lt;script&gt;` is `<script>` by then. */
const REVEALED_TAG = /<\/?[A-Za-z!?][^<>]*>/g

/**
 * The text of a page; the text unchanged when it has no tag after all (`<3 is a heart`).
 */
function pageText(text: string): string {
  const stripped = stripMarkup(text)
  if (stripped === undefined) return text
  if (!stripped.includes('&')) return stripped
  return decodeEntities(stripped).replace(REVEALED_TAG, '')
}

/** Elements whose content is never the message: the page's head, its code and its styles. */
const HIDDEN_ELEMENTS = new Set(['head', 'title', 'script', 'style', 'template', 'svg'])

/** Finds `</head`, `</HEAD`, …: case-insensitive, from `lastIndex`. */
const CLOSING_TAGS = new Map(
  [...HIDDEN_ELEMENTS].map((name) => [name, new RegExp(`</${name}`, 'gi')] as const),
)

function closingTagOf(name: string): RegExp {
  return CLOSING_TAGS.get(name) as RegExp
}

/**
 * Elements that start or end a line (as `<br>` does): the quoted line ends at the first. Line
 * breaks in the page's source are spaces, as a browser shows them.
 */
const LINE_ELEMENTS = new Set([
  'address',
  'article',
  'aside',
  'blockquote',
  'body',
  'br',
  'dd',
  'div',
  'dl',
  'dt',
  'footer',
  'form',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'header',
  'hr',
  'html',
  'li',
  'main',
  'nav',
  'ol',
  'p',
  'pre',
  'section',
  'table',
  'td',
  'th',
  'tr',
  'ul',
])

const TAG_NAME = /^<\/?([A-Za-z][A-Za-z0-9-]*)/

/**
 * The text of an HTML page, with line breaks where the page has them; `undefined` when it has
 * no tag. A scanner rather than regular expressions: a peer's markup is arbitrary, and each
 * step here moves forward, so its cost grows with the text and no faster. A tag left open at
 * the end (the body was cut while read) is dropped with the rest.
 */
function stripMarkup(text: string): string | undefined {
  let out = ''
  let markup = false
  let index = 0
  while (index < text.length) {
    const open = text.indexOf('<', index)
    if (open === -1) {
      out += text.slice(index)
      break
    }
    out += text.slice(index, open)
    const next = text.charCodeAt(open + 1)
    // `a < b`, `x<5`: not a tag.
    if (!(isLetter(next) || next === 0x2f /* / */ || next === 0x21 /* ! */ || next === 0x3f)) {
      out += '<'
      index = open + 1
      continue
    }
    if (text.startsWith('<!--', open)) {
      const end = text.indexOf('-->', open + 4)
      if (end === -1) break
      index = end + 3
      continue
    }
    const close = text.indexOf('>', open)
    if (close === -1) break
    index = close + 1
    // `<!DOCTYPE html>`, `<?xml …?>`: no name, nothing to show.
    const name = TAG_NAME.exec(text.slice(open, Math.min(close, open + 32)))?.[1]?.toLowerCase()
    if (name === undefined) continue
    markup = true
    const closing = text.charCodeAt(open + 1) === 0x2f
    if (!closing && HIDDEN_ELEMENTS.has(name) && text.charCodeAt(close - 1) !== 0x2f) {
      const closingTag = closingTagOf(name)
      closingTag.lastIndex = index
      const end = closingTag.exec(text)?.index
      if (end === undefined) break
      const endClose = text.indexOf('>', end)
      if (endClose === -1) break
      index = endClose + 1
      continue
    }
    if (LINE_ELEMENTS.has(name)) out += LINE_SEPARATOR
  }
  // Line breaks of the page's source are spaces, as a browser shows them.
  return markup ? out.replace(SOURCE_LINE_BREAKS, ' ') : undefined
}

/** U+2028: a line break of the page (`<br>`, a block), told apart from those of its source. */
const LINE_SEPARATOR = '\u2028'

const SOURCE_LINE_BREAKS = /[\r\n]+/g

const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  amp: '&',
  apos: "'",
  gt: '>',
  lt: '<',
  nbsp: ' ',
  quot: '"',
}

const ENTITY = /&(#[xX][0-9A-Fa-f]{1,6}|#[0-9]{1,7}|[A-Za-z]{2,8});/g

/** Decodes character references once (`&amp;lt;` is `&lt;`); an unknown one stays as written. */
function decodeEntities(text: string): string {
  return text.replace(ENTITY, (whole, ref: string) => {
    if (ref.charCodeAt(0) !== 0x23 /* # */) return NAMED_ENTITIES[ref.toLowerCase()] ?? whole
    const code =
      ref.charCodeAt(1) === 0x78 || ref.charCodeAt(1) === 0x58
        ? Number.parseInt(ref.slice(2), 16)
        : Number.parseInt(ref.slice(1), 10)
    const valid = code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff)
    return valid ? String.fromCodePoint(code) : whole
  })
}

const LINE_BREAK = /[\r\n\u2028\u2029]/

/**
 * Where a stack trace starts: `    at ` (V8's frames, indented), or ` at name (file:1:2)` once
 * the indentation is lost. A run of spaces is tried from its start only (`(?<!\s)`): tried
 * from each of its spaces, a long run would cost its length squared.
 */
const STACK_FRAME = /(?<!\s)\s{2,}at\s|\sat\s+(?:\S+\s+)?\(?\S+:\d+:\d+\)?/

/** Terminal escapes (`\x1b[31m`): colour codes of a peer's log output. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are what it removes
const ANSI_ESCAPE = /\x1b\[[0-9;?]*[ -/]*[@-~]/g

// biome-ignore lint/suspicious/noControlCharactersInRegex: these are what it removes
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g

/** `file:///…` and Windows paths (`C:\…`, `C:/…`, `\\server\share\…`). */
const FILE_URL_OR_WINDOWS_PATH =
  /\bfile:\/\/[^\s'"()<>]*|(?<![A-Za-z0-9])[A-Za-z]:[\\/][^\s'"()<>]*|\\\\[^\s'"()<>\\]+\\[^\s'"()<>]*/gi

/** A POSIX path that starts a word: `/home/u/x.js:47:15`. Which of them are files: `isFilePath`. */
const POSIX_PATH = /(?<=^|[\s'"(=:,[])\/(?!\/)[^\s'"()<>]*/g

/** First directories of absolute file paths, not of URL paths such as `/send/users.create`. */
const FILE_ROOTS = new Set([
  'Users',
  'Volumes',
  'app',
  'builds',
  'etc',
  'home',
  'media',
  'mnt',
  'nix',
  'opt',
  'private',
  'proc',
  'root',
  'snap',
  'srv',
  'sys',
  'tmp',
  'usr',
  'var',
  'work',
  'workspace',
])

/** Endings of source and data files, as a stack or an `ENOENT` names them. */
const FILE_ENDING =
  /\.(?:[cm]?[jt]sx?|json|node|map|coffee|py|rb|go|rs|java|php|sh|ya?ml|toml|env|log|txt|html?|css|lock|sock|pem|key|crt|conf|cfg|ini)$/i

/** Whether a `/…` word is a file on the peer's disk rather than a route (`/send/users.create`). */
function isFilePath(path: string): boolean {
  const position = FILE_POSITION.exec(path)
  // `/x.js:47:15`, `/srv/app/x.js:47`: a stack frame's file.
  if (position !== null && (position[0].lastIndexOf(':') > 0 || path.indexOf('/', 1) !== -1)) {
    return true
  }
  const file = position === null ? path : path.slice(0, position.index)
  const slash = file.indexOf('/', 1)
  // `/status`, `/home`: one segment is a route, or a directory that says nothing.
  if (slash === -1 || slash === file.length - 1) return false
  return FILE_ROOTS.has(file.slice(1, slash)) || FILE_ENDING.test(file)
}

/** `:47` or `:47:15` at the end of a path: its line and column. */
const FILE_POSITION = /(?::\d+){1,2}$/

/** The first line of `text`, up to its stack trace, without paths, on one line. */
function oneLine(text: string): string {
  let line = text.trimStart()
  const lineEnd = LINE_BREAK.exec(line)
  if (lineEnd !== null) line = line.slice(0, lineEnd.index)
  line = prefix(line, LINE_LENGTH)
  const frame = STACK_FRAME.exec(line)
  if (frame !== null) line = line.slice(0, frame.index)
  line = line.replace(ANSI_ESCAPE, '').replace(CONTROL, ' ')
  line = line
    .replace(FILE_URL_OR_WINDOWS_PATH, (path) => trailingPunctuation(path))
    .replace(POSIX_PATH, (path) =>
      isFilePath(withoutPunctuation(path)) ? trailingPunctuation(path) : path,
    )
    // What held a path and holds nothing now: `()`, `( )`.
    .replace(/\(\s*\)/g, '')
  return line.replace(/\s+/g, ' ').trim()
}

/** A sentence's punctuation after a path (`… in /srv/x.js, then`) is not part of it. */
const PUNCTUATION_END = /[.,;:!?]+$/

function withoutPunctuation(path: string): string {
  return path.replace(PUNCTUATION_END, '')
}

function trailingPunctuation(path: string): string {
  return PUNCTUATION_END.exec(path)?.[0] ?? ''
}

function isLetter(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff
}
