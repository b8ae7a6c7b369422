import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, type TestContext, test } from 'node:test'
import { withDeadline } from '@exorelay/testing'
import { codeBlocks, runExample } from '../../exorelay/test/doc-examples.js'
import { type LocalRegistry, startLocalRegistry } from '../src/local-registry.js'
import { type NpmResult, npm } from '../src/npm.js'
import { packPublicPackages, type Tarball } from '../src/pack.js'
import { publicPackages, repositoryRoot } from '../src/public-packages.js'

// What a user does once the packages are on npm, proven before they are: publish every public
// package to a local registry (Verdaccio), install from it into a new app outside the
// repository with plain `npm install`, as the getting-started guide's step 1 says, and there
// type-check and run the guide's own examples. This takes the registry path rather than the
// guide's `.packs/*.tgz` path for a clone: only a registry shows that each package names its
// siblings so that npm finds them by name and version, as it will on npm. Both paths install
// the same tarballs, made by packPublicPackages().

const guide = 'docs/guides/getting-started.md'
const work = mkdtempSync(join(tmpdir(), 'exorelay-release-check-'))
const app = join(work, 'my-service')
let registry: LocalRegistry
let bus: ChildProcess | undefined

before(async () => {
  const tarballs = await packPublicPackages(join(work, 'packs'))
  registry = await startLocalRegistry(
    join(work, 'registry'),
    tarballs.map((tarball) => tarball.name),
  )
  await publish(tarballs)
})

after(async () => {
  if (bus && bus.exitCode === null && bus.signalCode === null) {
    const exited = once(bus, 'exit')
    bus.kill('SIGKILL')
    await withDeadline(exited, 10_000, () => 'the bus did not exit after SIGKILL')
  }
  await registry?.close()
  rmSync(work, { recursive: true, force: true })
})

async function publish(tarballs: readonly Tarball[]): Promise<void> {
  // Two at a time: each npm run is mostly start-up, and the machine may have two cores.
  const queue = [...tarballs]
  const worker = async () => {
    for (let tarball = queue.shift(); tarball; tarball = queue.shift()) {
      const { exitCode, output } = await npm(['publish', tarball.file, '--access', 'public'], {
        cwd: work,
        userconfig: registry.npmrc,
        timeout: 60_000,
      })
      assert.equal(exitCode, 0, `npm publish ${tarball.name} failed:\n${output}`)
    }
  }
  await Promise.all([worker(), worker()])
}

/**
 * The packages the guide's `npm install` lines name, without the tarball paths of the install
 * from a clone: what a user types, so the test installs what the guide tells them to.
 */
function packagesTheGuideInstalls(): string[] {
  return codeBlocks(guide, 'sh')
    .flatMap((block) => block.split('\n'))
    .flatMap((line) => line.split(/&&|;/))
    .map((command) => command.replace(/#.*/, '').trim().split(/\s+/))
    .filter((words) => words[0] === 'npm' && words[1] === 'install')
    .flatMap((words) => words.slice(2))
    .filter((word) => !word.startsWith('-') && !word.endsWith('.tgz'))
}

test('every public package is published to the local registry', async () => {
  for (const pkg of publicPackages()) {
    const response = await fetch(`${registry.url}${pkg.manifest.name.replace('/', '%2f')}`, {
      signal: AbortSignal.timeout(10_000),
    })
    assert.equal(response.status, 200, `${pkg.manifest.name} is not on the local registry`)
    const packument = (await response.json()) as { 'dist-tags': { latest: string } }
    assert.equal(packument['dist-tags'].latest, pkg.manifest.version)
  }
})

// Verdaccio answers 404 for a proxied package when its one request to the public registry
// failed (seen for @types/node on a loaded machine). A 404 for one of ours never matches.
const PROXIED_NOT_FOUND =
  /404 Not Found - GET https?:\/\/[^/\s]+\/(?!exorelay\b|exoservice\b|@exorelay%2f)\S+ - no such package available/
// What npm prints when the way to the registry, not a package, failed.
const NETWORK_ERROR =
  /\b(ECONNRESET|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|socket hang up)\b|\b5\d\d (Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout)\b/
// A second try needs at least this long (ms) left of the budget to be worth starting.
const WORTH_TRYING = 30_000

/**
 * Runs an npm command that fetches through the local registry, and once more when it failed on
 * the way to the public registry behind it: that is the network, not our packages. Both tries
 * share `budget` ms (`run` gets what is left), so that together they end before the test's
 * own timeout, with npm's output. What failed the first time is kept in the diagnostics.
 */
async function onceMoreOnNetworkTrouble(
  t: TestContext,
  what: string,
  budget: number,
  run: (timeout: number) => Promise<NpmResult>,
): Promise<NpmResult> {
  const started = performance.now()
  const result = await run(budget)
  const left = budget - (performance.now() - started)
  if (
    result.exitCode === 0 ||
    left < WORTH_TRYING ||
    !(PROXIED_NOT_FOUND.test(result.output) || NETWORK_ERROR.test(result.output))
  ) {
    return result
  }
  t.diagnostic(
    `${what} failed on the way to the public registry, trying again:\n${result.output}\nVerdaccio's log:\n${registry.log()}`,
  )
  return run(left)
}

/** What to check when Verdaccio says it could not reach the registry it proxies. */
function upstreamHint(log: string): string {
  if (!log.includes('is now offline')) return ''
  return '\nVerdaccio could not reach the registry it proxies: check the network, the proxy variables (HTTPS_PROXY) and, behind a TLS-inspecting proxy, NODE_EXTRA_CA_CERTS; turbo passes a task only the variables turbo.json lists (globalPassThroughEnv).'
}

test('a new app installs the packages from the registry, type-checks and runs the getting-started guide', async (t) => {
  const named = packagesTheGuideInstalls()
  const names = named.map((spec) => spec.replace(/(.)@.*$/, '$1'))
  for (const name of ['exorelay', '@exorelay/exocom', 'typescript', 'tsx', '@types/node']) {
    assert.ok(names.includes(name), `the guide's step 1 no longer installs ${name}: ${named}`)
  }
  // TypeScript at the version the repository builds with, so that a new major version of it
  // fails in the repository first; @exorelay/testing as the testing guide adds it.
  const typescript = JSON.parse(
    readFileSync(join(repositoryRoot, 'node_modules/typescript/package.json'), 'utf8'),
  ) as { version: string }
  const packages = [
    ...named.map((spec) => (spec === 'typescript' ? `typescript@${typescript.version}` : spec)),
    '@exorelay/testing',
  ]

  // `npm init -y && npm pkg set type=module`, as the guide says, written without two npm runs.
  mkdirSync(app)
  writeFileSync(
    join(app, 'package.json'),
    `${JSON.stringify({ name: 'my-service', version: '1.0.0', private: true, type: 'module' })}\n`,
  )

  await t.test('npm install exits 0, with no 404 and no EBADENGINE', (t) =>
    installFromRegistry(t, app, packages),
  )

  const examples = codeBlocks(guide, 'ts').map((code, index) => ({
    code,
    name: `${guide} example ${index + 1}`,
    file: join(app, `getting-started-${index + 1}.ts`),
  }))
  for (const example of examples) writeFileSync(example.file, example.code)

  await t.test(
    "the guide's examples pass tsc --strict with the guide's tsconfig.json",
    async () => {
      const tsconfig = codeBlocks(guide, 'json').find((block) => block.includes('compilerOptions'))
      assert.ok(tsconfig, `${guide} no longer shows a tsconfig.json`)
      writeFileSync(join(app, 'tsconfig.json'), tsconfig)
      const tsc = await run(
        process.execPath,
        [join(app, 'node_modules/typescript/bin/tsc')],
        120_000,
      )
      assert.equal(tsc.exitCode, 0, `tsc failed in the new app:\n${tsc.output}`)
    },
  )

  await t.test("the guide's examples run against the installed bus", async () => {
    const port = await startInstalledBus()
    for (const example of examples) {
      await runExample(example.code, {
        file: example.file,
        nodeArgs: ['--import', 'tsx'],
        env: { EXOCOM_PORT: String(port), EXOCOM_HOST: '127.0.0.1' },
        name: example.name,
      })
    }
  })
})

/**
 * Runs `npm install ...packages` in `cwd` against the local registry and asserts that it exits
 * 0 and that npm printed no 404 and (on Node 22 or later) no `EBADENGINE`.
 */
async function installFromRegistry(
  t: TestContext,
  cwd: string,
  packages: readonly string[] = [],
): Promise<void> {
  const result = await onceMoreOnNetworkTrouble(
    t,
    `npm install ${packages.join(' ')}`,
    150_000,
    (timeout) => npm(['install', ...packages], { cwd, userconfig: registry.npmrc, timeout }),
  )
  assert.equal(
    result.exitCode,
    0,
    `npm install ${packages.join(' ')} in ${cwd} failed:\n${result.output}\nVerdaccio's log:\n${registry.log()}${upstreamHint(registry.log())}`,
  )
  assert.doesNotMatch(result.output, /\b404\b/, result.output)
  // Node 20 is not supported (decision 0021): dependencies may warn there, never on 22+.
  if (Number(process.versions.node.split('.')[0]) >= 22) {
    assert.doesNotMatch(result.output, /EBADENGINE/, result.output)
  }
}

test('`npx exoservice new demo`, then `npm install` and `npm test` in it, pass against the published packages', async (t) => {
  // As the package README says, from a folder with no package.json: npx fetches exoservice
  // from the registry (--yes answers its question), and the new service installs its own.
  const created = await onceMoreOnNetworkTrouble(t, 'npx exoservice new demo', 120_000, (timeout) =>
    npm(['exec', '--yes', 'exoservice', 'new', 'demo'], {
      cwd: work,
      userconfig: registry.npmrc,
      // A cache of this run's own: npx reuses a package it installed before under the same
      // version, which would be an earlier build of this repository's 0.1.0.
      cache: join(work, '.npm-cache'),
      timeout,
    }),
  )
  assert.equal(created.exitCode, 0, `npx exoservice new demo failed:\n${created.output}`)
  const demo = join(work, 'demo')

  await t.test('npm install exits 0, with no 404 and no EBADENGINE', (t) =>
    installFromRegistry(t, demo),
  )

  await t.test('npm test passes', async () => {
    const tested = await npm(['test'], { cwd: demo, timeout: 120_000 })
    assert.equal(tested.exitCode, 0, `npm test failed in the new service:\n${tested.output}`)
    assert.match(tested.output, /^(# |ℹ )pass 2$/m, tested.output)
  })

  await t.test('npm run typecheck passes', async () => {
    const checked = await npm(['run', 'typecheck'], { cwd: demo, timeout: 120_000 })
    assert.equal(checked.exitCode, 0, `tsc failed in the new service:\n${checked.output}`)
  })
})

/** Starts the `exocom` command the app installed, on a free port, and returns the port. */
async function startInstalledBus(): Promise<number> {
  bus = spawn(join(app, 'node_modules/.bin/exocom'), ['--port', '0'], {
    cwd: app,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  bus.stderr!.on('data', (chunk) => {
    output += chunk
  })
  const lines = createInterface({ input: bus.stdout! })
  const online = new Promise<number>((resolve, reject) => {
    lines.on('line', (line) => {
      output += `${line}\n`
      const match = /online at port (\d+)/.exec(line)
      if (match) resolve(Number(match[1]))
    })
    bus!.once('exit', (code) => reject(new Error(`the bus exited with ${code}:\n${output}`)))
  })
  return withDeadline(online, 20_000, () => `the installed bus did not come online (${output})`)
}

/** Runs a command to its end; never throws, so that a failure shows its whole output. */
function run(
  command: string,
  args: readonly string[],
  timeout: number,
): Promise<{ exitCode: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: app, stdio: ['ignore', 'pipe', 'pipe'], timeout })
    let output = ''
    child.stdout.on('data', (chunk) => {
      output += chunk
    })
    child.stderr.on('data', (chunk) => {
      output += chunk
    })
    child.on('exit', (code, signal) =>
      resolve({ exitCode: code ?? 1, output: signal ? `${output}\nkilled by ${signal}` : output }),
    )
  })
}
