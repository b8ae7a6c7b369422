import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { accessSync, constants } from 'node:fs'
import { createServer } from 'node:net'
import { delimiter, join } from 'node:path'

// A real nats-server for the tests that select NATS through the environment. CI installs it
// (.ci/run); a machine without it fails these tests loudly rather than skipping them.

function natsServerBinary(): string {
  // Debian installs it in /usr/sbin, which is not on every PATH.
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin']) {
    if (dir === '') continue
    const candidate = join(dir, 'nats-server')
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // Not in this directory.
    }
  }
  throw new Error(
    'nats-server is not installed: these tests need it (apt-get install nats-server).',
  )
}

/** A port that was free a moment ago: nats-server takes a number, not 0. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** Starts nats-server on a free loopback port; resolves with its URL and a way to kill it. */
export async function startNatsServer(): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort()
  const child = spawn(natsServerBinary(), ['--addr', '127.0.0.1', '--port', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let output = ''
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject)
    child.on('exit', (code) => reject(new Error(`nats-server exited with ${code}:\n${output}`)))
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk
      if (output.includes('Server is ready')) resolve()
    })
  })
  return {
    url: `nats://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGKILL')
      await exited
    },
  }
}
