import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { withDeadline } from '@exorelay/testing'

export interface LocalRegistry {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string
  /**
   * An npm user config file that points npm at this registry with a token that may publish.
   * Pass it as `--userconfig`, so that the user's own ~/.npmrc is neither read nor touched.
   */
  readonly npmrc: string
  /** What Verdaccio logged (warnings and errors, such as a failed upstream request). */
  log(): string
  /** Kills Verdaccio and waits until it has exited. */
  close(): Promise<void>
}

/**
 * The registry the rest is proxied from: the one npm is configured with (a mirror, a company
 * proxy), as npm tells the scripts it runs, else the public one.
 */
function upstreamRegistry(): string {
  return process.env.npm_config_registry || 'https://registry.npmjs.org/'
}

/** Verdaccio's configuration: `localNames` live here only, everything else is proxied. */
function configuration(folder: string, localNames: readonly string[]): object {
  // A name listed without `proxy` is never looked up on the public registry: `exorelay` exists
  // there already (the original project), and an install must get the version published here.
  const local = Object.fromEntries(
    localNames.map((name) => [name, { access: '$all', publish: '$authenticated' }]),
  )
  return {
    self_path: folder,
    storage: `${folder}/storage`,
    auth: { htpasswd: { file: `${folder}/htpasswd`, max_users: 1 } },
    uplinks: {
      npmjs: {
        url: upstreamRegistry(),
        timeout: '60s',
        // Verdaccio's defaults (2 failures, then 5 minutes offline) would turn one dropped
        // request into 404s for every package the install still needs.
        max_fails: 10,
        fail_timeout: '2s',
      },
    },
    packages: { ...local, '**': { access: '$all', proxy: 'npmjs' } },
    web: { enable: false },
    log: { type: 'stdout', format: 'json', level: 'warn' },
  }
}

/**
 * Starts Verdaccio (a local npm registry) on 127.0.0.1 and a free port, with its storage in
 * `folder`, and creates a user to publish with. Verdaccio runs in a child process; see
 * verdaccio-process.ts.
 */
export async function startLocalRegistry(
  folder: string,
  localNames: readonly string[],
): Promise<LocalRegistry> {
  mkdirSync(folder, { recursive: true })
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      new URL('./verdaccio-process.ts', import.meta.url).pathname,
      JSON.stringify(configuration(folder, localNames)),
    ],
    { cwd: new URL('..', import.meta.url).pathname, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  child.stderr.on('data', (chunk) => {
    output += chunk
  })
  const close = () => stop(child)
  try {
    const port = await withDeadline(
      firstLine(child, (line) => {
        output += `${line}\n`
      }).then((line) => (JSON.parse(line) as { port: number }).port),
      30_000,
      () => `Verdaccio did not start (output so far: ${output})`,
    )
    const url = `http://127.0.0.1:${port}/`
    const token = await createUser(url)
    const npmrc = `${folder}/npmrc`
    writeFileSync(npmrc, `registry=${url}\n//127.0.0.1:${port}/:_authToken=${token}\n`)
    return { url, npmrc, close, log: () => output }
  } catch (error) {
    await close()
    throw error
  }
}

/**
 * The first line the child prints: Verdaccio's port. Its later lines are its log, passed to
 * `later` (reading them also keeps a chatty Verdaccio from blocking on a full pipe).
 */
async function firstLine(child: ChildProcess, later: (line: string) => void): Promise<string> {
  const lines = createInterface({ input: child.stdout! })
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`Verdaccio exited with ${code} before it listened`)
  })
  // One listener for every line: lines of one chunk come in one go, so a listener added after
  // the first would miss the ones right behind it.
  const first = new Promise<string>((resolve) => {
    let seen = false
    lines.on('line', (line) => {
      if (seen) later(line)
      else resolve(line)
      seen = true
    })
  })
  return Promise.race([first, exited])
}

/** Creates a user over the registry API (`npm adduser` does the same) and returns its token. */
async function createUser(url: string): Promise<string> {
  const name = 'release-check'
  const response = await fetch(`${url}-/user/org.couchdb.user:${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, password: 'release-check-password', type: 'user', roles: [] }),
    signal: AbortSignal.timeout(10_000),
  })
  const body = (await response.json()) as { token?: string }
  if (!response.ok || typeof body.token !== 'string') {
    throw new Error(`Verdaccio did not create a user: ${response.status} ${JSON.stringify(body)}`)
  }
  return body.token
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGKILL')
  await withDeadline(exited, 10_000, () => 'Verdaccio did not exit after SIGKILL')
}
