import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import {
  publicPackages,
  readManifest,
  repositoryRoot,
  workspacePackages,
} from '../src/public-packages.js'

// What npm and a registry page show of each public package, checked against one source: the
// root package.json states the repository, every package agrees with it.

const root = readManifest(repositoryRoot)
const gitUrl = root.repository?.url ?? ''
/** `https://github.com/<owner>/<name>`, from the root's `git+https://…/<name>.git`. */
const web = gitUrl.replace(/^git\+/, '').replace(/\.git$/, '')
const rootLicense = readFileSync(`${repositoryRoot}LICENSE`, 'utf8')
const publicNames = publicPackages().map((pkg) => pkg.manifest.name)

test('the root package.json states the repository once, as a git URL on GitHub', () => {
  assert.match(gitUrl, /^git\+https:\/\/github\.com\/[^/]+\/[^/]+\.git$/)
  assert.equal(root.homepage, `${web}#readme`)
  assert.equal(root.bugs?.url, `${web}/issues`)
})

test('the root and every package declare Node >=22, the oldest supported (decision 0021)', () => {
  assert.equal(root.engines?.node, '>=22')
  for (const pkg of workspacePackages()) {
    assert.equal(pkg.manifest.engines?.node, '>=22', `${pkg.manifest.name}: engines.node`)
  }
})

for (const pkg of publicPackages()) {
  const { manifest } = pkg
  describe(manifest.name, () => {
    test('points at its folder of the repository the root states', () => {
      assert.deepEqual(manifest.repository, {
        type: 'git',
        url: gitUrl,
        directory: `packages/${pkg.dir}`,
      })
      assert.equal(manifest.homepage, `${web}/tree/main/packages/${pkg.dir}#readme`)
      assert.deepEqual(manifest.bugs, { url: `${web}/issues` })
      assert.equal(manifest.license, 'MIT')
    })

    test('has a LICENSE identical to the root one, a README and a CHANGELOG', () => {
      // Copies, so that each tarball carries one: edit the root LICENSE and copy it again.
      assert.equal(
        readFileSync(`${pkg.path}/LICENSE`, 'utf8'),
        rootLicense,
        `packages/${pkg.dir}/LICENSE differs from the root LICENSE: copy the root one over it`,
      )
      assert.match(readFileSync(`${pkg.path}/README.md`, 'utf8'), /^# /)
      assert.match(
        readFileSync(`${pkg.path}/CHANGELOG.md`, 'utf8'),
        new RegExp(`^# ${manifest.name}\\n`),
      )
    })

    test("exports './package.json'", () => {
      assert.equal(manifest.exports?.['./package.json'], './package.json')
    })

    test('README links are absolute: a relative one breaks on a registry page', () => {
      const readme = readFileSync(`${pkg.path}/README.md`, 'utf8')
      const relative = [...readme.matchAll(/\]\(([^)\s]+)\)/g)]
        .map((match) => match[1]!)
        .filter((target) => !/^(https?:|mailto:|#)/.test(target))
      assert.deepEqual(
        relative,
        [],
        `packages/${pkg.dir}/README.md: make these ${web}/blob/main/… (files) or /tree/main/… (folders)`,
      )
    })

    test('depends on its siblings at exactly the version they are released at', () => {
      // All public packages are released together at one version (decision 0021), and a
      // sibling pinned exactly makes a set of them install together.
      for (const field of ['dependencies', 'peerDependencies'] as const) {
        for (const [name, range] of Object.entries(manifest[field] ?? {})) {
          if (publicNames.includes(name)) {
            assert.equal(range, manifest.version, `${field}.${name}`)
          }
        }
      }
    })
  })
}

test('every public package has the same version', () => {
  const versions = new Set(publicPackages().map((pkg) => pkg.manifest.version))
  assert.equal(versions.size, 1, `versions: ${[...versions]}`)
})

test('changesets releases the public packages as one fixed group and leaves private ones out', () => {
  const config = JSON.parse(readFileSync(`${repositoryRoot}.changeset/config.json`, 'utf8')) as {
    fixed: string[][]
    privatePackages: unknown
  }
  assert.deepEqual([...config.fixed[0]!].sort(), [...publicNames].sort())
  assert.equal(config.fixed.length, 1)
  assert.equal(config.privatePackages, false)
})

test('typedoc documents exactly the public packages', () => {
  // typedoc.json lists them by hand (its packages strategy would take private ones too): a
  // package added or made private must change that list as well.
  const config = JSON.parse(readFileSync(`${repositoryRoot}typedoc.json`, 'utf8')) as {
    entryPoints: string[]
  }
  assert.deepEqual(
    [...config.entryPoints].sort(),
    publicPackages()
      .map((pkg) => `packages/${pkg.dir}`)
      .sort(),
  )
})
