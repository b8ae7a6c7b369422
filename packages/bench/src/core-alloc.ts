// What core allocates per request/reply: the core micro-benchmark's two relays (no I/O, no
// JSON), counted in young-generation collections. The script runs with a fixed 1 MiB
// semi-space (see the `core-alloc` script in package.json), so each collection stands for
// about 1 MiB allocated and the count per request/reply reads as KiB allocated (less what
// survives). Run: npm run core-alloc -w @exorelay/bench
import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { measureCore } from './core-micro.js'

const ITERATIONS = 300_000
const WARMUP = 10_000

let collections = 0
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const { detail } = entry as PerformanceEntry & { detail?: { kind?: number } }
    if (detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) {
      collections++
    }
  }
})
observer.observe({ entryTypes: ['gc'] })

for (const stackTraces of [false, true]) {
  await sleep(100)
  collections = 0
  const ns = await measureCore({ stackTraces }, { iterations: ITERATIONS, warmup: WARMUP })
  // Node reports collections from a timer after the work that caused them: let it run.
  await sleep(100)
  const perRequestReply = (collections * 1024) / (ITERATIONS + WARMUP)
  process.stdout.write(
    `stackTraces: ${stackTraces}: ${collections} young-generation collections in ${ITERATIONS + WARMUP} request/replies, about ${perRequestReply.toFixed(2)} KiB allocated per request/reply; ${Math.round(ns)} ns per request/reply\n`,
  )
}
observer.disconnect()
