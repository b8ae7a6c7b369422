import assert from 'node:assert/strict'
import { test } from 'node:test'
import { deferred, withDeadline } from '@exorelay/testing'
import { stopOnSignals } from '../src/index.js'

// In this process, with a signal nothing else here listens for: emitted, not sent. The whole
// command's signals are tested in landscape-command.test.ts.
const SIGNAL = 'SIGUSR2'
// SIGUSR2 is also Node's diagnostic report signal, which Node 24's test runner turns on: each
// emit below would write a report file into the package.
process.report.reportOnSignal = false

/** A landscape that counts its stops and kills. */
function fakeLandscape(): { stops: number; kills: number; stop(): Promise<void>; kill(): void } {
  return {
    stops: 0,
    kills: 0,
    stop() {
      this.stops += 1
      return Promise.resolve()
    },
    kill() {
      this.kills += 1
    },
  }
}

test('the first signal aborts the start and stops the landscape; the second kills it and exits 128 + its number', async (t) => {
  const exited = deferred<void>()
  const exit = t.mock.method(process, 'exit', () => {
    exited.resolve()
    return undefined as never
  })
  const told: string[] = []
  const stop = stopOnSignals({
    signals: [SIGNAL],
    onStop: (signal) => told.push(`stop ${signal}`),
    onKill: (signal) => told.push(`kill ${signal}`),
  })
  t.after(() => stop.dispose())
  const landscape = fakeLandscape()
  stop.attach(landscape)
  assert.equal(stop.signal.aborted, false)

  process.emit(SIGNAL, SIGNAL)
  assert.equal(stop.signal.aborted, true)
  assert.match((stop.signal.reason as Error).message, /^stopped by SIGUSR2$/)
  assert.deepEqual({ stops: landscape.stops, kills: landscape.kills }, { stops: 1, kills: 0 })
  assert.equal(exit.mock.callCount(), 0)

  process.emit(SIGNAL, SIGNAL)
  assert.deepEqual({ stops: landscape.stops, kills: landscape.kills }, { stops: 1, kills: 1 })
  // The exit waits for stderr to take what onKill wrote.
  await withDeadline(exited.promise, 5_000, () => 'the second signal did not exit')
  assert.deepEqual(
    exit.mock.calls.map(({ arguments: args }) => args),
    [[128 + 12]],
  )
  assert.deepEqual(told, ['stop SIGUSR2', 'kill SIGUSR2'])
})

test('a signal during the start stops the landscape as soon as it is attached', (t) => {
  const stop = stopOnSignals({ signals: [SIGNAL] })
  t.after(() => stop.dispose())
  process.emit(SIGNAL, SIGNAL)
  // The start resolved anyway (it was past its last await): the landscape is handed over.
  const landscape = fakeLandscape()
  stop.attach(landscape)
  assert.equal(landscape.stops, 1)
})

test('dispose() stops listening', () => {
  const before = process.listenerCount(SIGNAL)
  const stop = stopOnSignals({ signals: [SIGNAL] })
  assert.equal(process.listenerCount(SIGNAL), before + 1)
  stop.dispose()
  assert.equal(process.listenerCount(SIGNAL), before)
})
