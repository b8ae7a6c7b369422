import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The repository root, where the root package.json and packages/ are. */
export const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url))

/** The fields of a package.json that the release checks read. */
export interface Manifest {
  readonly name: string
  readonly version: string
  readonly private?: boolean
  readonly license?: string
  readonly homepage?: string
  readonly repository?: {
    readonly type?: string
    readonly url?: string
    readonly directory?: string
  }
  readonly bugs?: { readonly url?: string }
  readonly engines?: { readonly node?: string }
  readonly exports?: Record<string, unknown>
  readonly dependencies?: Record<string, string>
  readonly devDependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
}

export interface WorkspacePackage {
  /** The folder under packages/, e.g. `exocom`. */
  readonly dir: string
  /** Its absolute path. */
  readonly path: string
  readonly manifest: Manifest
}

export function readManifest(path: string): Manifest {
  return JSON.parse(readFileSync(`${path}/package.json`, 'utf8')) as Manifest
}

/** Every package under packages/, public or private, in folder order. */
export function workspacePackages(): WorkspacePackage[] {
  return readdirSync(`${repositoryRoot}packages`, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => {
      const path = `${repositoryRoot}packages/${entry.name}`
      return { dir: entry.name, path, manifest: readManifest(path) }
    })
}

/** The packages that are published: every one under packages/ not marked private. */
export function publicPackages(): WorkspacePackage[] {
  return workspacePackages().filter((pkg) => pkg.manifest.private !== true)
}
