import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

/**
 * The first executable `name` on `PATH`, then in `extraDirs` (Debian puts some programs where
 * not every user's `PATH` looks). `undefined` when there is none.
 */
export function findExecutable(
  name: string,
  extraDirs: readonly string[] = [],
): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), ...extraDirs]) {
    if (dir === '') continue
    const candidate = join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // Not in this directory.
    }
  }
  return undefined
}

/**
 * Where a Chromium is installed, for browser tests: `chromium` (Debian's package) or
 * `chromium-browser` (older Ubuntu's), on `PATH` or in `/usr/bin`. `undefined` when there is
 * none, e.g. to skip a test.
 */
export function findChromium(): string | undefined {
  return (
    findExecutable('chromium', ['/usr/bin']) ?? findExecutable('chromium-browser', ['/usr/bin'])
  )
}
