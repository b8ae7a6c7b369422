import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, posix } from 'node:path'

/**
 * What is wrong with the package's internal entries: every `exports` subpath other than `.`
 * (and `./package.json`) is for the sibling packages only (decision 0012), so it must ship no types to users. Inside the
 * monorepo the siblings still type-check against it: with no `types` condition, TypeScript
 * reads the `.d.ts` beside the entry's JavaScript, which the build writes and `files` leaves
 * out of the tarball. What the tarball holds is asked of npm itself (`npm pack --dry-run`),
 * because npm's reading of `files` is the one that counts.
 */
export function internalEntryProblems(packageDir: string): string[] {
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    exports?: Record<string, unknown>
  }
  // `./package.json` is the manifest itself, exported for tools that read it: not an entry.
  const entries = Object.entries(manifest.exports ?? {}).filter(
    ([subpath]) => subpath !== '.' && subpath !== './package.json',
  )
  if (entries.length === 0) return []
  const packed = packedFiles(packageDir)
  const problems: string[] = []
  for (const [subpath, target] of entries) {
    const conditions = (typeof target === 'object' && target !== null ? target : {}) as Record<
      string,
      unknown
    >
    if ('types' in conditions) {
      problems.push(
        `exports['${subpath}'] has a "types" condition: an internal entry ships no types to users. Remove it; the siblings read the .d.ts beside the JavaScript.`,
      )
    }
    const script = typeof target === 'string' ? target : conditions.default
    if (typeof script !== 'string') continue
    const declarations = posix.normalize(script).replace(/\.js$/, '.d.ts')
    if (packed.has(declarations)) {
      problems.push(
        `npm pack ships ${declarations}, the types of the internal entry '${subpath}'. Add "!${declarations}" to "files" in package.json.`,
      )
    }
  }
  return problems
}

/** The paths `npm pack` would put in the tarball, relative to the package folder. */
function packedFiles(packageDir: string): Set<string> {
  const output = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: packageDir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const [pack] = JSON.parse(output) as [{ files: { path: string }[] }]
  return new Set(pack.files.map((file) => file.path))
}
