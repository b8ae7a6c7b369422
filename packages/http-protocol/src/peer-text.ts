/** Characters of a peer's answer text that an error or a log line quotes at most. */
export const QUOTED_TEXT_LENGTH = 200

/**
 * A peer's answer text as errors and log lines quote it: trimmed and cut to
 * `QUOTED_TEXT_LENGTH` characters. One rule for the body of a single answer, the `error` of a
 * batch result, and the bus's warnings about a receiver, so that a rogue peer cannot fill an
 * error or a log.
 */
export function textStart(text: string): string {
  const trimmed = text.trim()
  if (trimmed.length <= QUOTED_TEXT_LENGTH) return trimmed
  // Cut by code point so that a surrogate pair is never split in half.
  return `${Array.from(trimmed).slice(0, QUOTED_TEXT_LENGTH).join('')}…`
}
