import { invalidOption } from '@exorelay/core/internal'

/** The first token(s) of every message subject unless told otherwise: `exorelay.users.create`. */
export const DEFAULT_SUBJECT_PREFIX = 'exorelay'

/** The token an empty name segment becomes: a lone `%` can never come out of escaping a character. */
const EMPTY_SEGMENT = '%'
// Characters that pass unchanged. Deliberately narrow: NATS subjects are only guaranteed to
// work in ASCII, whitespace ends a subject, `.` separates tokens, `*` and `>` are wildcards,
// `$` starts system subjects and `%` is the escape character itself.
const SAFE = /^[A-Za-z0-9_-]$/
const ESCAPED = /%(?:u([0-9A-F]{4})|([0-9A-F]{2}))/g
const PLAIN_NAME = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/
const TOKEN = /^(?:[A-Za-z0-9_-]|%u[0-9A-F]{4}|%[0-9A-F]{2})+$/

/**
 * The subject a message name travels on: `<prefix>.<escaped name>`. The name's dots stay
 * token separators, so `users.create` is `exorelay.users.create` and NATS permissions and
 * wildcard subscriptions (`exorelay.users.>`) work on the name's structure. Inside a segment,
 * every character other than `A-Z a-z 0-9 _ -` is escaped: `%XX` (two upper-case hex
 * digits) below U+0080, `%uXXXX` (one UTF-16 code unit) above; an empty segment (`a..b`, a
 * leading or trailing dot) is the token `%`. The escaping is reversible ({@link decodeSubject})
 * and a 512-character name stays within the NATS server's 4 KiB protocol line.
 *
 * @example
 * ```ts
 * encodeSubject('users.create')      // 'exorelay.users.create'
 * encodeSubject('hello world')       // 'exorelay.hello%20world'
 * encodeSubject('users.*', 'prod')   // 'prod.users.%2A'
 * encodeSubject('a..b')              // 'exorelay.a.%.b'
 * ```
 */
export function encodeSubject(name: string, prefix: string = DEFAULT_SUBJECT_PREFIX): string {
  return `${prefix}.${encodeName(name)}`
}

// The token that marks a cancellation subject. Names escape every `~` (`%7E`), so no message
// name's subject has this token where a cancellation subject has it.
const CANCEL_TOKEN = '~cancel'

/**
 * The subject on which cancellations of requests named `name` travel:
 * `<prefix>.~cancel.<escaped name>`, e.g. `exorelay.~cancel.users.create`. Each relay that
 * handles the name subscribes to it, so a cancellation reaches only those, never a relay
 * that cannot be running the request.
 */
export function cancelSubject(name: string, prefix: string): string {
  return `${prefix}.${CANCEL_TOKEN}.${encodeName(name)}`
}

/**
 * The message name of a subject made by {@link encodeSubject} with the same prefix, or
 * `undefined` when the subject is not one (another prefix, a malformed escape).
 */
export function decodeSubject(
  subject: string,
  prefix: string = DEFAULT_SUBJECT_PREFIX,
): string | undefined {
  if (!subject.startsWith(`${prefix}.`)) return undefined
  return decodeName(subject.slice(prefix.length + 1))
}

/** The escaped form of a whole name, tokens joined by dots; also used in headers and queue names. */
export function encodeName(name: string): string {
  // Most names need no escaping: dot-separated tokens of safe characters stand for themselves.
  if (PLAIN_NAME.test(name)) return name
  return name.split('.').map(encodeSegment).join('.')
}

/** The name an {@link encodeName} result stands for, or `undefined` when it is not one. */
export function decodeName(encoded: string): string | undefined {
  // The same holds backwards: a name without escapes or empty segments decodes to itself.
  if (PLAIN_NAME.test(encoded)) return encoded
  const segments: string[] = []
  for (const token of encoded.split('.')) {
    if (token === EMPTY_SEGMENT) {
      segments.push('')
    } else if (TOKEN.test(token)) {
      segments.push(
        token.replace(ESCAPED, (_match, unit: string | undefined, ascii: string | undefined) =>
          String.fromCharCode(Number.parseInt(unit ?? ascii!, 16)),
        ),
      )
    } else {
      return undefined
    }
  }
  return segments.join('.')
}

function encodeSegment(segment: string): string {
  if (segment === '') return EMPTY_SEGMENT
  let token = ''
  for (let index = 0; index < segment.length; index++) {
    const character = segment[index]!
    if (SAFE.test(character)) {
      token += character
      continue
    }
    // Code units, not code points: a lone surrogate (legal in a JS string) survives the trip.
    const unit = segment.charCodeAt(index)
    token +=
      unit < 0x80
        ? `%${unit.toString(16).toUpperCase().padStart(2, '0')}`
        : `%u${unit.toString(16).toUpperCase().padStart(4, '0')}`
  }
  return token
}

/**
 * Throws an `InvalidArgumentError` unless `prefix` is a usable subject prefix: one or more
 * non-empty tokens of printable ASCII, without whitespace or wildcards.
 */
export function checkSubjectPrefix(prefix: unknown): string {
  if (
    typeof prefix !== 'string' ||
    prefix === '' ||
    !prefix.split('.').every((token) => /^[\x21-\x7E]+$/.test(token) && !/[*>]/.test(token))
  ) {
    throw invalidOption(
      'subjectPrefix',
      'one or more dot-separated NATS subject tokens without wildcards or whitespace',
      prefix,
    )
  }
  return prefix
}
