import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MESSAGE_NAME, SERVICE_TYPE } from './service-file.js'

// The files of a new service are kept as files, under templates/service/, rather than as
// strings here: they read (and Biome formats them) as the user will get them, and the test
// that scaffolds a service and runs its own test and tsc proves they work. package.json is
// built here instead, because it carries this package's version.

/** The template folder: beside src/ and dist/ alike, so that both find it. */
const TEMPLATES = fileURLToPath(new URL('../templates/service/', import.meta.url))

/** What each template says where the service's name goes. */
const PLACEHOLDER = /__NAME__/g

/** Template files stored under another name: npm leaves a package's .gitignore out of its tarball. */
const RENAMED: Readonly<Record<string, string>> = { gitignore: '.gitignore' }

/**
 * The tools a new service develops with that exoservice does not depend on itself, at the
 * ranges this repository builds and tests with (a test keeps them in step with the root
 * package.json).
 */
export const TOOL_VERSIONS = { typescript: '~6.0.3', '@types/node': '^22.20.7' } as const

/** npm's limit for a package name; the service's name is its package's name. */
const MAX_NAME_LENGTH = 214

/**
 * Why `name` cannot name a new service, or `undefined` when it can. It must be a service type
 * (the service's name on the bus) from which message names can be made (`<name>.hello`), and
 * a folder and npm package name.
 */
export function serviceNameProblem(name: string): string | undefined {
  if (name.length > MAX_NAME_LENGTH) {
    return `the name is ${name.length} characters long; use at most ${MAX_NAME_LENGTH}.`
  }
  if (!SERVICE_TYPE.test(name) || !MESSAGE_NAME.test(name)) {
    return `${JSON.stringify(name)} is not a service name: use letters, digits, '-' and '_' in parts joined by single dots, starting with a letter or a digit, e.g. users or shop.orders.`
  }
  return undefined
}

/** Reads exoservice's own package.json: the version a new service depends on, and tsx's range. */
function ownManifest(): { version: string; dependencies: Record<string, string> } {
  const require = createRequire(import.meta.url)
  return require('../package.json') as { version: string; dependencies: Record<string, string> }
}

/** The package.json of a new service, depending on this version of exoservice and exorelay. */
function packageJson(name: string): string {
  const { version, dependencies } = ownManifest()
  const manifest = {
    // npm takes lowercase names only; the service's type keeps its case.
    name: name.toLowerCase(),
    version: '0.1.0',
    private: true,
    description: `The ${name} service.`,
    type: 'module',
    engines: { node: '>=22' },
    scripts: {
      start: 'exoservice run',
      test: 'node --import tsx --test --test-timeout=30000 test/*.test.ts',
      typecheck: 'tsc --noEmit',
    },
    dependencies: { exoservice: `^${version}`, exorelay: `^${version}` },
    devDependencies: {
      '@exorelay/testing': `^${version}`,
      '@types/node': TOOL_VERSIONS['@types/node'],
      tsx: dependencies.tsx,
      typescript: TOOL_VERSIONS.typescript,
    },
  }
  return `${JSON.stringify(manifest, null, 2)}\n`
}

/**
 * The files of a new service named `name`, by their path in its folder (`/`-separated), sorted
 * by path. `name` must be one {@link serviceNameProblem} accepts.
 */
export async function scaffoldFiles(name: string): Promise<Map<string, string>> {
  const files = new Map<string, string>()
  const templates = (await readdir(TEMPLATES, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => relative(TEMPLATES, join(entry.parentPath, entry.name)).replaceAll('\\', '/'))
  for (const template of templates) {
    const text = await readFile(join(TEMPLATES, template), 'utf8')
    // A replacer function, so that a '$' in a name could never be read as a pattern.
    files.set(
      RENAMED[template] ?? template,
      text.replace(PLACEHOLDER, () => name),
    )
  }
  files.set('package.json', packageJson(name))
  return new Map([...files].sort(([a], [b]) => a.localeCompare(b)))
}

/**
 * Why a new service cannot be written to `directory`, or `undefined` when it can: it must not
 * exist, or be an empty folder; with `force`, any folder will do.
 */
export async function directoryProblem(
  directory: string,
  force: boolean,
): Promise<string | undefined> {
  let isDirectory: boolean
  try {
    isDirectory = (await stat(directory)).isDirectory()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  if (!isDirectory) {
    return `${directory} exists and is not a folder. Choose another name, or another folder with --directory.`
  }
  if (force || (await readdir(directory)).length === 0) return undefined
  return `${directory} exists and is not empty. Choose another name or --directory, or pass --force to write the service's files into it (files of the same name are replaced).`
}

/** Writes `files` (as {@link scaffoldFiles} makes them) into `directory`, creating folders. */
export async function writeFiles(directory: string, files: Map<string, string>): Promise<void> {
  for (const [path, text] of files) {
    const file = join(directory, path)
    await mkdir(dirname(file), { recursive: true })
    await writeFile(file, text)
  }
}
