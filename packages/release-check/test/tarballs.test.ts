import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { publint } from 'publint'
import { formatMessage } from 'publint/utils'
import { packPublicPackages, type Tarball } from '../src/pack.js'
import { publicPackages, repositoryRoot } from '../src/public-packages.js'

// Each public package as npm would publish it: packed, then checked by publint and by "Are the
// Types Wrong?" (attw), and its file list read. Any finding fails, with the tool's own text.

const run = promisify(execFile)
const attw = join(
  dirname(createRequire(import.meta.url).resolve('@arethetypeswrong/cli/package.json')),
  'dist/index.js',
)
const folder = mkdtempSync(join(tmpdir(), 'exorelay-tarballs-'))
let tarballs: Tarball[] = []

/** attw's text for each package, `undefined` when it found nothing: run two at a time. */
const attwFindings = new Map<string, Promise<string | undefined>>()

before(async () => {
  tarballs = await packPublicPackages(folder)
  const queue = [...tarballs]
  const results = new Map<string, (finding: string | undefined) => void>()
  for (const tarball of tarballs) {
    attwFindings.set(tarball.name, new Promise((resolve) => results.set(tarball.name, resolve)))
  }
  const worker = async () => {
    for (let tarball = queue.shift(); tarball; tarball = queue.shift()) {
      results.get(tarball.name)!(await checkTypes(tarball))
    }
  }
  // Not awaited: each test awaits its own package, while the others are still checked.
  void Promise.all([worker(), worker()])
})

/**
 * Runs attw on a tarball. The packages are ESM only (`type: module`, no `require` condition),
 * so the profile is esm-only: it leaves out the node10 and node16-from-CommonJS resolutions,
 * where an ESM package cannot be required at all. `./internal` is left out too: it is for the
 * sibling packages' compiled JavaScript, with no semver promise, and ships without
 * declarations on purpose so that a TypeScript user does not come to depend on it.
 */
async function checkTypes(tarball: Tarball): Promise<string | undefined> {
  const args = [tarball.file, '--profile', 'esm-only', '--format', 'ascii']
  const manifest = publicPackages().find((pkg) => pkg.manifest.name === tarball.name)?.manifest
  if (manifest?.exports?.['./internal'] !== undefined) {
    args.push('--exclude-entrypoints', './internal')
  }
  try {
    await run(process.execPath, [attw, ...args, '--no-color', '--no-emoji'], { timeout: 60_000 })
    return undefined
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string }
    return `attw ${args.join(' ')} failed:\n${stdout}${stderr}`
  }
}

after(() => {
  rmSync(folder, { recursive: true, force: true })
})

function tarballOf(name: string): Tarball {
  const tarball = tarballs.find((candidate) => candidate.name === name)
  assert.ok(tarball, `npm pack made no tarball of ${name}`)
  return tarball
}

for (const { manifest } of publicPackages()) {
  describe(manifest.name, () => {
    test('the tarball holds LICENSE, README.md, package.json and dist/ with declarations, and no tests', () => {
      const { files } = tarballOf(manifest.name)
      for (const file of ['LICENSE', 'README.md', 'CHANGELOG.md', 'package.json']) {
        assert.ok(files.includes(file), `${file} is missing: ${files}`)
      }
      assert.ok(files.includes('dist/index.js'), `dist/index.js is missing: ${files}`)
      assert.ok(files.includes('dist/index.d.ts'), `dist/index.d.ts is missing: ${files}`)
      // templates/ holds the files a command writes for the user (`exoservice new`): a new
      // service's own test among them, on purpose.
      const unwanted = files.filter(
        (file) =>
          !file.startsWith('templates/') &&
          /(^|\/)(test|tests|__tests__)\/|\.test\.[cm]?[jt]s$|\.tsbuildinfo$|(^|\/)\.docs-run\//.test(
            file,
          ),
      )
      assert.deepEqual(unwanted, [], 'test files or build state in the tarball')
    })

    test('publint finds nothing, not even a suggestion', async () => {
      const data = readFileSync(tarballOf(manifest.name).file)
      const { messages, pkg } = await publint({
        pack: { tarball: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) },
        level: 'suggestion',
        strict: true,
      })
      const text = messages.map((message) => {
        const where = message.path.join('.')
        return `${message.type} ${message.code} at ${where}: ${formatMessage(message, pkg, { color: false })}`
      })
      assert.deepEqual(text, [], `publint on ${manifest.name}:\n${text.join('\n')}`)
    })

    test('attw finds nothing', async () => {
      const finding = await attwFindings.get(manifest.name)
      assert.equal(finding, undefined, finding)
    })
  })
}

describe('exoservice', () => {
  test('the tarball holds every template `exoservice new` writes', () => {
    const templates = readdirSync(join(repositoryRoot, 'packages/exoservice/templates'), {
      recursive: true,
      withFileTypes: true,
    })
      .filter((entry) => entry.isFile())
      .map((entry) =>
        relative(join(repositoryRoot, 'packages/exoservice'), join(entry.parentPath, entry.name)),
      )
    // The new service's .gitignore is stored as `gitignore`: npm leaves .gitignore files out.
    assert.ok(templates.includes('templates/service/gitignore'), `${templates}`)
    const { files } = tarballOf('exoservice')
    assert.deepEqual(
      templates.filter((file) => !files.includes(file)),
      [],
      'templates missing from the tarball',
    )
  })
})

describe('@exorelay/exocom', () => {
  test('the tarball holds the dev page the bus serves at GET /', () => {
    // dist/dev-page.js reads it from ../ui/index.html: without it the bus cannot start.
    assert.ok(tarballOf('@exorelay/exocom').files.includes('ui/index.html'))
  })
})
