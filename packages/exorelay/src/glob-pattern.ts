// `exorelay tail users.*`: names are matched with shell-like globs. path.matchesGlob would do,
// but it is experimental on Node 22 (a warning on stderr) and missing on Node 20, and it
// treats '/' as a separator, which a message name is free to contain.

/**
 * A test of whole names against a glob: `*` is any run of characters (also none), `?` any one
 * character; everything else stands for itself, `.` too.
 *
 * @example
 * globMatcher('users.*')('users.created') // true
 * globMatcher('*created')('users.created') // true
 */
export function globMatcher(glob: string): (name: string) => boolean {
  const source = Array.from(glob, (char) =>
    char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[\\^$.|+()[\]{}]/g, '\\$&'),
  ).join('')
  const pattern = new RegExp(`^${source}$`, 'su')
  return (name) => pattern.test(name)
}
