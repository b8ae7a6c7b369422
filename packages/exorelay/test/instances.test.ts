import assert from 'node:assert/strict'
import { type ChildProcessByStdio, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type ExoCom, startExoCom } from '@exorelay/exocom'
import { withDeadline } from '@exorelay/testing'
import { ExoRelay } from '../src/index.js'

// Issue 14: two relays registering under one name were one service, the last one winning
// silently: its callers' replies went to the other one. Now each is an instance, messages go
// to them in turn, and a dead one is dropped while the others keep serving (decision 0017).

/** A `users` relay in its own process, answering `users.get` with its pid. */
const USERS = `
import { ExoRelay } from 'exorelay'
const relay = new ExoRelay({
  serviceName: 'users',
  exocomPort: Number(process.env.EXOCOM_PORT),
  port: 0,
  logger: false,
})
relay.registerHandler('users.get', (_payload, { reply }) => reply('users.found', { pid: process.pid }))
await relay.listen()
console.log(JSON.stringify({ pid: process.pid }))
`

type Child = ChildProcessByStdio<null, Readable, null>

async function startUsersInstance(t: test.TestContext, bus: ExoCom): Promise<Child> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', USERS], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: { ...process.env, EXOCOM_PORT: String(bus.port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const lines = createInterface({ input: child.stdout })
  await withDeadline(once(lines, 'line'), 20_000, () => 'a users instance did not come online')
  return child
}

async function startRelay(t: test.TestContext, bus: ExoCom, serviceName: string) {
  const relay = new ExoRelay({ serviceName, exocomPort: bus.port, port: 0, logger: false })
  t.after(() => relay.close())
  await relay.listen()
  return relay
}

/** A bus, three `users` instances in their own processes, and a `web` relay. */
async function startThreeUsersAndWeb(t: test.TestContext) {
  const bus = await startExoCom({ port: 0, logger: false })
  t.after(() => bus.close())
  const children: Child[] = []
  for (let i = 0; i < 3; i++) children.push(await startUsersInstance(t, bus))
  const web = await startRelay(t, bus, 'web')
  return { bus, children, web }
}

function instancesOf(bus: ExoCom, name: string): number | undefined {
  return bus.config().services[name]?.instances?.length
}

test('three instances of users are all kept and take requests in turn', async (t) => {
  const { bus, children, web } = await startThreeUsersAndWeb(t)

  const answers = new Map<number, number>()
  for (let i = 0; i < 30; i++) {
    const { pid } = (await web.send('users.get', {}, { timeout: 5_000 })) as { pid: number }
    answers.set(pid, (answers.get(pid) ?? 0) + 1)
  }

  assert.deepEqual([...answers.values()], [10, 10, 10], 'each instance takes every third request')
  assert.deepEqual(new Set(answers.keys()), new Set(children.map((child) => child.pid)))
  assert.equal(instancesOf(bus, 'users'), 3)
})

test('two instances of a requester each get the replies to their own requests', async (t) => {
  const bus = await startExoCom({ port: 0, logger: false })
  t.after(() => bus.close())
  await startUsersInstance(t, bus)
  // Two instances of `web`: before instances, the second replaced the first, and every reply
  // to the first went to the second, which dropped it; the first timed out.
  const webs = [await startRelay(t, bus, 'web'), await startRelay(t, bus, 'web')]

  const sends = webs.flatMap((web) =>
    Array.from({ length: 20 }, () => web.send('users.get', {}, { timeout: 5_000 })),
  )

  const settled = await Promise.allSettled(sends)
  assert.deepEqual(
    settled.filter((result) => result.status === 'rejected'),
    [],
    'a request got no reply',
  )
  assert.equal(instancesOf(bus, 'web'), 2)
  // One closing withdraws itself alone: the other is still routed.
  await webs[0]!.close()
  assert.equal(instancesOf(bus, 'web'), 1)
  await webs[1]!.send('users.get', {}, { timeout: 5_000 })
})

test('one of three instances killed under load: every request sent after its death gets a reply', async (t) => {
  const { bus, children, web } = await startThreeUsersAndWeb(t)

  interface Outcome {
    readonly afterDeath: boolean
    readonly pid?: number
    readonly error?: unknown
  }
  const outcomes: Outcome[] = []
  const WARM = 300
  let warmedUp!: () => void
  const warm = new Promise<void>((resolve) => {
    warmedUp = resolve
  })
  const record = (outcome: Outcome) => {
    outcomes.push(outcome)
    if (outcomes.length === WARM) warmedUp()
  }
  let dead = false
  let sentAfterDeath = 0
  const IN_FLIGHT = 32
  const AFTER_DEATH = 600
  // A closed loop of IN_FLIGHT callers, each sending its next request when the last settled,
  // until AFTER_DEATH requests were sent after the victim died.
  const caller = async () => {
    while (!dead || sentAfterDeath < AFTER_DEATH) {
      const afterDeath = dead
      if (afterDeath) sentAfterDeath++
      try {
        const reply = (await web.send('users.get', {}, { timeout: 3_000 })) as { pid: number }
        record({ afterDeath, pid: reply.pid })
      } catch (error) {
        record({ afterDeath, error })
      }
    }
  }
  const callers = Array.from({ length: IN_FLIGHT }, caller)
  // Under load first: the victim has taken requests, and holds some when it dies.
  await withDeadline(warm, 30_000, () => `the first ${WARM} requests did not settle`)
  // The one that answered last: it is serving, whichever way the bus routes.
  const victim = children.find((child) => child.pid === outcomes.at(-1)?.pid)
  assert.ok(victim !== undefined, 'the last request was not answered by an instance')
  victim.kill('SIGKILL')
  await withDeadline(once(victim, 'exit'), 10_000, () => 'the killed instance did not exit')
  dead = true
  await withDeadline(Promise.all(callers), 60_000, () => 'the requests did not all settle')

  const after = outcomes.filter((outcome) => outcome.afterDeath)
  const failedAfter = after.filter((outcome) => outcome.error !== undefined)
  assert.equal(after.length, AFTER_DEATH)
  assert.deepEqual(
    failedAfter.map((outcome) => String(outcome.error)),
    [],
    'a request sent after the kill got no reply',
  )
  assert.ok(after.every((outcome) => outcome.pid !== victim.pid))
  // Only those that were on their way to the victim when it died may have failed.
  const failedBefore = outcomes.filter((outcome) => !outcome.afterDeath && outcome.error)
  assert.ok(failedBefore.length <= IN_FLIGHT, `${failedBefore.length} failed before the kill`)
  assert.equal(instancesOf(bus, 'users'), 2)
})
