import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { withDeadline } from '@exorelay/testing'
import { fixture, gone, testRelay } from './landscape-helpers.js'
import { isFree } from './ports.js'

// The command as users run it: the bin, through dist (turbo builds before it tests).
const BIN = fileURLToPath(new URL('../bin/exoservice.js', import.meta.url))
// tsx compiles each service on its first start, slowly on a 2-core CI machine.
const START = 60_000

/** `exoservice landscape …` running, its output read line by line. */
class Landscape {
  readonly child: ChildProcess
  readonly stdout: string[] = []
  readonly stderr: string[] = []
  readonly exited: Promise<number | null>
  readonly #waiters = new Set<() => void>()

  constructor(args: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [BIN, 'landscape', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, EXOCOM_PORT: '0', ...env },
    })
    const read = (stream: NodeJS.ReadableStream, into: string[]) => {
      createInterface({ input: stream }).on('line', (line) => {
        into.push(line)
        for (const waiter of this.#waiters) waiter()
      })
    }
    read(this.child.stdout!, this.stdout)
    read(this.child.stderr!, this.stderr)
    this.exited = once(this.child, 'close').then(([code]) => code as number | null)
  }

  /** Resolves with the first stdout line that matches, seen or to come. */
  waitFor(pattern: RegExp, timeout = START): Promise<string> {
    const found = new Promise<string>((resolve, reject) => {
      const check = (): void => {
        const line = this.stdout.find((candidate) => pattern.test(candidate))
        if (line !== undefined) {
          this.#waiters.delete(check)
          resolve(line)
        }
      }
      this.#waiters.add(check)
      check()
      void this.exited.then(() => reject(new Error(`exited first:\n${this.output()}`)))
    })
    return withDeadline(found, timeout, () => `no line matching ${pattern}:\n${this.output()}`)
  }

  /** The ports of the banner: the bus's first, then each service's. */
  async ports(): Promise<{ bus: number; services: Record<string, number> }> {
    await this.waitFor(/^Press Ctrl-C to stop\.$/)
    const bus = Number(/http:\/\/127\.0\.0\.1:(\d+)/.exec(this.stdout.join('\n'))![1])
    const services: Record<string, number> = {}
    for (const line of this.stdout) {
      const match = /^ {2}(\S+) +port (\d+)$/.exec(line)
      if (match !== null) services[match[1]!] = Number(match[2])
    }
    return { bus, services }
  }

  /** The `port` of the first JSON line of `service` whose message starts with `text`. */
  portIn(service: string, text: string): number {
    for (const line of this.stdout) {
      const match = /^(\S+) +\| (\{.*\})$/.exec(line)
      if (match?.[1] !== service) continue
      const record = JSON.parse(match[2]!) as { msg?: string; port?: number }
      if (record.msg?.startsWith(text) && typeof record.port === 'number') return record.port
    }
    throw new Error(`no line of ${service} says '${text}':\n${this.output()}`)
  }

  output(): string {
    return `stdout:\n${this.stdout.join('\n')}\nstderr:\n${this.stderr.join('\n')}`
  }
}

function run(
  t: { after: (fn: () => void) => void },
  args: string[],
  env?: NodeJS.ProcessEnv,
): Landscape {
  const landscape = new Landscape(args, env)
  t.after(() => {
    if (landscape.child.exitCode === null && landscape.child.signalCode === null) {
      landscape.child.kill('SIGKILL')
    }
  })
  return landscape
}

test('--help prints the usage and exits 0; wrong usage exits 2 with the usage', async (t) => {
  const help = run(t, ['--help'])
  assert.equal(await withDeadline(help.exited, 10_000, () => '--help did not exit'), 0)
  assert.match(help.stdout[0]!, /^Usage: exoservice landscape \[file\] \[options\]$/)
  for (const args of [
    ['--port', 'x'],
    ['a.yml', 'b.yml'],
    ['--what'],
    ['--start-timeout', '0'],
    ['--stop-grace', 'soon'],
  ]) {
    const wrong = run(t, args)
    assert.equal(await withDeadline(wrong.exited, 10_000, () => `${args} did not exit`), 2)
    assert.match(wrong.stderr[0]!, /^exoservice landscape: /)
    assert.ok(wrong.stderr.includes('Usage: exoservice landscape [file] [options]'))
  }
})

test('a missing application file: one line on stderr, exit 1', async (t) => {
  const missing = run(t, ['nowhere/application.yml'])
  assert.equal(await withDeadline(missing.exited, 10_000, () => 'it did not exit'), 1)
  assert.deepEqual(missing.stdout, [])
  assert.match(
    missing.stderr.join('\n'),
    /^exoservice landscape: \S+nowhere\/application\.yml: no such file\. /,
  )
})

/** A file path the fixture's services touch when they start (`touch "$CHECK_STARTED"`). */
async function startedMarker(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'exoservice-check-'))
  t.after(() => rm(folder, { recursive: true, force: true }))
  return join(folder, 'started')
}

test('the check runs first: with --strict a finding is fatal, nothing starts, exit 1', async (t) => {
  const marker = await startedMarker(t)
  const landscape = run(t, [fixture('../check/disagree'), '--strict'], { CHECK_STARTED: marker })
  assert.equal(await withDeadline(landscape.exited, START, () => 'it did not exit'), 1)
  assert.deepEqual(landscape.stdout, [])
  assert.equal(landscape.stderr.length, 6, landscape.output())
  assert.match(
    landscape.stderr[0]!,
    /^exoservice landscape: users\.create {2}web → users {2}schema-mismatch: /,
  )
  assert.equal(
    landscape.stderr.at(-1),
    'exoservice landscape: 5 findings in 2 services: nothing started (--strict)',
  )
  assert.equal(existsSync(marker), false, 'no service started')
})

test('without --strict the findings are warnings, and the landscape starts', async (t) => {
  const marker = await startedMarker(t)
  const landscape = run(t, [fixture('../check/disagree')], { CHECK_STARTED: marker })
  // Its services only touch the marker and exit: the runner then stops and exits 1.
  assert.equal(await withDeadline(landscape.exited, START, () => 'it did not exit'), 1)
  assert.equal(
    landscape.stderr[5],
    'exoservice landscape: 5 findings in 2 services; starting anyway (--strict would stop here)',
    landscape.output(),
  )
  assert.ok(existsSync(marker), 'a service started')
})

test('the banner lists each service with its port; lines carry the padded name; Ctrl-C stops all and exits 0', async (t) => {
  const landscape = run(t, [fixture('two-services')])
  const { bus, services } = await landscape.ports()
  assert.deepEqual(Object.keys(services), ['users', 'passwords', 'ledger'])
  // Not a terminal: each line as it came, after the name padded to the longest, 'passwords'.
  assert.ok(
    landscape.stdout.includes(`ledger    | online at port ${services.ledger}`),
    landscape.output(),
  )
  assert.ok(landscape.stdout.some((line) => line.startsWith('exocom    | {')))
  assert.ok(landscape.stdout.some((line) => line.startsWith('users     | {')))

  landscape.child.kill('SIGINT')
  assert.equal(await withDeadline(landscape.exited, 30_000, () => 'it did not exit'), 0)
  assert.ok(landscape.stdout.includes('exoservice landscape: stopped'), landscape.output())
  for (const port of [bus, ...Object.values(services)]) {
    assert.ok(await isFree(port), `port ${port} is free`)
  }
})

test('a service that exits on its own: its code and last lines on stderr, the rest stopped, exit 1', async (t) => {
  const landscape = run(t, [fixture('crash')])
  const { bus, services } = await landscape.ports()
  const relay = await testRelay(t, bus)
  // No reply comes: the crasher exits in its handler.
  relay.send('crasher.crash', 7).catch(() => {})
  assert.equal(await withDeadline(landscape.exited, 30_000, () => 'it did not exit'), 1)
  const stderr = landscape.stderr.join('\n')
  assert.match(
    stderr,
    // After the check's warning: nothing in the landscape sends crasher.crash (the test does).
    /^exoservice landscape: crasher exited with code 7; stopped the others and the bus\. Its last lines:\n/m,
  )
  assert.match(stderr, /\n {2}crasher \| crashing on purpose$/)
  for (const port of [bus, ...Object.values(services)]) {
    assert.ok(await isFree(port), `port ${port} is free`)
  }
})

for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  test(`a second ${signal} kills a service that does not stop, at once, and exits ${code}`, async (t) => {
    const landscape = run(t, [fixture('stubborn')])
    await landscape.ports()
    const pid = Number(/^stubborn +\| pid (\d+)$/.exec(await landscape.waitFor(/\| pid \d+$/))![1])
    landscape.child.kill(signal)
    // The stubborn service says so when SIGTERM reaches it: the stop is under way.
    await landscape.waitFor(/^stubborn +\| not stopping$/)
    landscape.child.kill(signal)
    assert.equal(await withDeadline(landscape.exited, 10_000, () => 'it did not exit'), code)
    assert.match(landscape.stderr.join('\n'), new RegExp(`${signal} again: killing the services`))
    // Killed, not left behind: the runner exits without waiting for it.
    await gone(pid, 10_000)
  })
}

test('a service that outlasts --stop-grace is killed, and the runner says so on its line; exit 0', async (t) => {
  const landscape = run(t, [fixture('stubborn'), '--stop-grace', '300'])
  await landscape.ports()
  const pid = Number(/^stubborn +\| pid (\d+)$/.exec(await landscape.waitFor(/\| pid \d+$/))![1])
  landscape.child.kill('SIGINT')
  assert.equal(await withDeadline(landscape.exited, 10_000, () => 'it did not exit'), 0)
  assert.ok(
    landscape.stdout.some((line) =>
      /^stubborn +\| did not exit within 300 ms of SIGTERM and was killed \(SIGKILL\)/.test(line),
    ),
    landscape.output(),
  )
  await gone(pid, 10_000)
})

test('Ctrl-C while the services start stops what started, frees its ports, and exits 0', async (t) => {
  // The quiet service never says it is online: the start is still under way.
  const landscape = run(t, [fixture('silent')])
  await landscape.waitFor(/^quiet +\| warming up$/)
  await landscape.waitFor(/^passwords +\| \{.*"msg":"online at port/)
  const ports = [
    landscape.portIn('exocom', 'ExoCom online at port'),
    landscape.portIn('passwords', 'online at port'),
  ]
  landscape.child.kill('SIGINT')
  assert.equal(await withDeadline(landscape.exited, 30_000, () => 'it did not exit'), 0)
  assert.equal(landscape.stdout.at(-1), 'exoservice landscape: stopped')
  // The check's warning (nothing sends what passwords receives here), and nothing else.
  assert.deepEqual(landscape.stderr, [
    'exoservice landscape: passwords.encrypt  passwords  no-sender: passwords receives it, but no service sends it',
    'exoservice landscape: 1 finding in 2 services; starting anyway (--strict would stop here)',
  ])
  for (const port of ports) assert.ok(await isFree(port), `port ${port} is free`)
})

test('over NATS: --port is ignored with a warning, the banner shows no bus and no ports; SIGTERM stops all and exits 0', async (t) => {
  const landscape = run(t, [fixture('hooks'), '--port', '4999'], {
    EXORELAY_TRANSPORT: 'nats',
    NATS_URL: 'nats://127.0.0.1:4222',
  })
  await landscape.waitFor(/^Press Ctrl-C to stop\.$/)
  assert.deepEqual(landscape.stderr, [
    'exoservice landscape: --port is ignored: with EXORELAY_TRANSPORT=nats no bus is started.',
  ])
  const banner = landscape.stdout.slice(
    landscape.stdout.indexOf('The landscape is running.'),
    landscape.stdout.indexOf('Press Ctrl-C to stop.') + 1,
  )
  assert.deepEqual(banner, [
    'The landscape is running.',
    '  bus: NATS (NATS_URL)',
    '  echoer',
    'Press Ctrl-C to stop.',
  ])
  landscape.child.kill('SIGTERM')
  assert.equal(await withDeadline(landscape.exited, 30_000, () => 'it did not exit'), 0)
  assert.equal(landscape.stdout.at(-1), 'exoservice landscape: stopped')
})

test('a runner killed with SIGKILL leaves no service behind: each notices and stops', async (t) => {
  const landscape = run(t, [fixture('hooks')])
  await landscape.waitFor(/^Press Ctrl-C to stop\.$/)
  const envLine = await landscape.waitFor(/^echoer +\| \{.*"msg":"env"/)
  const { pid } = JSON.parse(envLine.slice(envLine.indexOf('{'))) as { pid: number }
  landscape.child.kill('SIGKILL')
  await withDeadline(landscape.exited, 10_000, () => 'it did not exit')
  await gone(pid, 10_000)
})

test('a service that fails to start: which, why and its last lines on stderr, the rest stopped, exit 1', async (t) => {
  const landscape = run(t, [fixture('broken')])
  assert.equal(await withDeadline(landscape.exited, START, () => 'it did not exit'), 1)
  assert.match(
    landscape.stderr.join('\n'),
    // After the check's warning: nothing in the landscape sends what passwords receives.
    /^exoservice landscape: broken did not start: it exited with code 4 before it printed 'online at port'\. Its last lines:\n {2}broken \| cannot connect to the database\n/m,
  )
  assert.ok(!landscape.stdout.includes('Press Ctrl-C to stop.'))
})
