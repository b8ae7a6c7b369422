// Soak: many request/replies through the bus, watching the requesting relay's heap and its
// reply table. Not a timed test: it prints figures. Run: npm run soak -w @exorelay/bench
// (node --expose-gc, so the heap is measured after a full collection).
import { parseArgs } from 'node:util'
import { ExoRelay } from 'exorelay'
import { ENV_BUS_PORT } from './ipc.js'
import { runLoad } from './load.js'
import { PAYLOAD, REQUEST_NAME } from './payload.js'
import { killAll, NodeChild } from './processes.js'

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '200000' },
    'in-flight': { type: 'string', default: '64' },
    checkpoints: { type: 'string', default: '10' },
  },
})
const count = Number(values.count)
const inFlight = Number(values['in-flight'])
const checkpoints = Number(values.checkpoints)
const collect = (globalThis as { gc?: () => void }).gc
if (collect === undefined) throw new Error('Run the soak with node --expose-gc.')

interface Snapshot {
  done: number
  heapUsedMiB: number
  rssMiB: number
  pendingReplies: number
}

const bus = await NodeChild.start('bus', 'exorelay-bus.ts')
const responder = await NodeChild.start('responder', 'exorelay-responder.ts', {
  env: { [ENV_BUS_PORT]: String(bus.port) },
})
const relay = new ExoRelay({
  serviceName: 'web',
  exocomHost: '127.0.0.1',
  exocomPort: bus.port,
  port: 0,
  logger: false,
})
await relay.listen()

const snapshot = (done: number): Snapshot => {
  collect()
  const memory = process.memoryUsage()
  return {
    done,
    heapUsedMiB: round(memory.heapUsed / 2 ** 20),
    rssMiB: round(memory.rss / 2 ** 20),
    pendingReplies: relay.pendingReplies,
  }
}
const request = () => relay.send(REQUEST_NAME, PAYLOAD)

try {
  // Warm up first: the JIT and the connection pools settle, then the baseline is taken.
  await runLoad(request, { inFlight, count: 10_000 })
  const snapshots = [snapshot(0)]
  let errors = 0
  const started = process.hrtime.bigint()
  for (let step = 1; step <= checkpoints; step++) {
    const result = await runLoad(request, { inFlight, count: Math.round(count / checkpoints) })
    errors += result.errors
    snapshots.push(snapshot(snapshots.at(-1)!.done + result.completed))
    if (result.errors > 0) console.log(`errors in step ${step}: ${result.firstError}`)
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  console.table(snapshots)
  const [first, last] = [snapshots[0]!, snapshots.at(-1)!]
  console.log(
    [
      `soak: ${last.done} request/replies at ${inFlight} in flight in ${seconds.toFixed(1)} s (${Math.round(last.done / seconds)}/s), ${errors} errors`,
      `heap after GC: ${first.heapUsedMiB} MiB at the start, ${last.heapUsedMiB} MiB at the end (${signed(last.heapUsedMiB - first.heapUsedMiB)} MiB)`,
      `rss: ${first.rssMiB} MiB at the start, ${last.rssMiB} MiB at the end`,
      `pending replies: ${first.pendingReplies} at the start, ${last.pendingReplies} at the end`,
    ].join('\n'),
  )
  if (last.pendingReplies !== 0) process.exitCode = 1
} finally {
  await relay.close()
  await responder.stop()
  await bus.stop()
  killAll()
}

function round(value: number): number {
  return Math.round(value * 10) / 10
}

function signed(value: number): string {
  return `${value >= 0 ? '+' : ''}${round(value)}`
}
