import { mkdirSync } from 'node:fs'
import { npm } from './npm.js'
import { publicPackages, repositoryRoot } from './public-packages.js'

export interface Tarball {
  readonly name: string
  readonly version: string
  /** The absolute path of the .tgz. */
  readonly file: string
  /** The paths inside the package, e.g. `dist/index.d.ts`. */
  readonly files: readonly string[]
}

/**
 * Packs every public package with `npm pack`, the way `npm publish` would, into `destination`.
 * One npm run for all of them: npm's start-up is most of the cost of packing one. The packages
 * must be built (`npm run build`); npm pack runs no build of its own here.
 */
export async function packPublicPackages(destination: string): Promise<Tarball[]> {
  mkdirSync(destination, { recursive: true })
  const workspaces = publicPackages().flatMap((pkg) => ['--workspace', pkg.manifest.name])
  const { exitCode, stdout, output } = await npm(
    ['pack', '--json', '--pack-destination', destination, ...workspaces],
    { cwd: repositoryRoot, timeout: 120_000 },
  )
  if (exitCode !== 0) throw new Error(`npm pack failed:\n${output}`)
  const packed = JSON.parse(stdout) as {
    name: string
    version: string
    filename: string
    files: { path: string }[]
  }[]
  return packed.map((entry) => ({
    name: entry.name,
    version: entry.version,
    file: `${destination}/${entry.filename}`,
    files: entry.files.map((file) => file.path),
  }))
}
