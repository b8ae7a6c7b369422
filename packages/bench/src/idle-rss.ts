// Idle memory: the RSS of a relay process that listens, is registered with a bus and sends
// nothing, beside a bare Node.js process and the floor's service (Fastify + undici). Each runs
// as a plain `node` process on the built packages (dist), not through tsx, whose loader thread
// would add its own memory. Idle means idle: V8 shrinks the heap of a process that stops
// allocating after several seconds, so the figure is taken 15 s after listening (`--idle S`).
// RSS still moves by several MiB from one start to the next, so each figure is the median of
// several starts. Run: npm run idle-rss -w @exorelay/bench [-- --runs N --idle S]
//
// `--only a,b` runs the variants whose key is listed (bare, fastify, pool, floor, relay-silent,
// relay-pino, relay-unregistered); the Fastify-alone, Pool-alone and unregistered rows attribute
// the memory. `--flags=…` and `--env K=V` (repeatable) start every child with extra Node.js flags
// or environment, to measure deployment settings (e.g. `--env MALLOC_ARENA_MAX=2`) without
// baking them in. `--maps` also prints, for each start, the anonymous memory mappings with more
// than 1 MiB resident (from /proc/self/smaps): where the memory of one start and the next differs.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { startExoCom } from '@exorelay/exocom'
import { markdownTable } from './markdown.js'
import { median } from './stats.js'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '7' },
    idle: { type: 'string', default: '15' },
    only: { type: 'string' },
    flags: { type: 'string', default: '' },
    env: { type: 'string', multiple: true, default: [] },
    maps: { type: 'boolean', default: false },
  },
})
const runs = Number(values.runs)
const idleMs = Number(values.idle) * 1000
const only = values.only?.split(',').map((key) => key.trim())
const flags = values.flags.split(' ').filter((flag) => flag !== '')
const extraEnv = Object.fromEntries(
  values.env.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
)
const root = fileURLToPath(new URL('..', import.meta.url))

// With --maps: the child's anonymous mappings (no path; [heap] is the main malloc arena) with
// over 1 MiB resident, read after its RSS.
const LIST_MAPS = `
  const maps = []
  for (const entry of readFileSync('/proc/self/smaps', 'utf8').split(/\\n(?=[0-9a-f]+-)/)) {
    const [range, , , , , path = ''] = entry.slice(0, entry.indexOf('\\n')).split(/\\s+/)
    const resident = Number(/\\nRss:\\s+(\\d+)/.exec(entry)?.[1] ?? 0) * 1024
    if (path.startsWith('/') || resident <= 2 ** 20) continue
    const [start, end] = range.split('-').map((hex) => Number.parseInt(hex, 16))
    maps.push({ path, size: end - start, resident })
  }`

// What each child prints once it has been idle: its memory, read from the process itself.
const REPORT = `
  const { readFileSync } = await import('node:fs')
  await new Promise((resolve) => setTimeout(resolve, ${idleMs}))
  const status = readFileSync('/proc/self/status', 'utf8')
  const kib = (field) => Number(new RegExp(field + ':\\\\s+(\\\\d+)').exec(status)?.[1] ?? NaN)
  const memory = process.memoryUsage()
  ${values.maps ? LIST_MAPS : 'const maps = []'}
  console.log('IDLE ' + JSON.stringify({
    rss: memory.rss, heapTotal: memory.heapTotal, heapUsed: memory.heapUsed,
    rssAnon: kib('RssAnon') * 1024, rssFile: kib('RssFile') * 1024, maps,
  }))`

interface Variant {
  readonly name: string
  readonly script: string
}

function variants(busPort: number): Record<string, Variant> {
  return {
    bare: { name: 'bare node', script: REPORT },
    fastify: {
      name: 'Fastify app alone',
      script: `
      const { default: Fastify } = await import('fastify')
      const app = Fastify({ logger: false })
      app.post('/run/:name', (_request, reply) => { reply.code(200).send() })
      await app.listen({ port: 0, host: '127.0.0.1' })
      ${REPORT}
      await app.close()`,
    },
    // undici's Pool module alone, as the relay loads it, after one request to the bus.
    pool: {
      name: 'undici Pool alone (one request)',
      script: `
      const { createRequire } = await import('node:module')
      const require = createRequire(import.meta.url)
      const Pool = require('undici/lib/dispatcher/pool.js')
      const { request } = require('undici/lib/api/index.js')
      const bus = new Pool('http://127.0.0.1:${busPort}', { connections: 16 })
      await (await request.call(bus, { method: 'GET', path: '/status' })).body.dump()
      ${REPORT}
      await bus.close()`,
    },
    floor: {
      name: 'floor service (Fastify + undici Pool)',
      script: `
      const { default: Fastify } = await import('fastify')
      const { Pool } = await import('undici')
      const app = Fastify({ logger: false })
      app.post('/run/:name', (_request, reply) => { reply.code(200).send() })
      await app.listen({ port: 0, host: '127.0.0.1' })
      const bus = new Pool('http://127.0.0.1:${busPort}', { connections: 16 })
      await (await bus.request({ method: 'GET', path: '/status' })).body.dump()
      ${REPORT}
      await app.close(); await bus.close()`,
    },
    'relay-silent': { name: 'ExoRelay (logger: false)', script: relay('false') },
    'relay-pino': { name: 'ExoRelay (default pino logger)', script: relay('undefined') },
    // Never registers, so its sender never parses an HTTP response.
    'relay-unregistered': {
      name: 'ExoRelay (logger: false, register: false)',
      script: relay('false', 'false'),
    },
  }

  function relay(logger: string, register = 'true'): string {
    return `
      const { ExoRelay } = await import('exorelay')
      const relay = new ExoRelay({
        serviceName: 'users', exocomHost: '127.0.0.1', exocomPort: ${busPort}, port: 0,
        logger: ${logger}, register: ${register},
      })
      relay.registerHandler('users.create', (user, { reply }) => reply('users.created', user))
      await relay.listen()
      ${REPORT}
      await relay.close()`
  }
}

interface Memory {
  rss: number
  heapTotal: number
  heapUsed: number
  rssAnon: number
  rssFile: number
  maps: { path: string; size: number; resident: number }[]
}

async function measure(script: string): Promise<Memory> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...flags, '--input-type=module', '--eval', script],
    { cwd: root, env: { ...process.env, LOG_LEVEL: 'warn', ...extraEnv } },
  )
  const line = stdout.split('\n').find((text) => text.startsWith('IDLE '))
  if (line === undefined) throw new Error(`The child reported no memory: ${stdout}`)
  return JSON.parse(line.slice('IDLE '.length)) as Memory
}

const bus = await startExoCom({ port: 0, logger: false })
const rows: string[][] = []
try {
  for (const [key, { name, script }] of Object.entries(variants(bus.port))) {
    // Without --only, the rows of the issue: bare node, the floor and the two relays.
    if (only === undefined ? key === 'fastify' || key === 'pool' : !only.includes(key)) continue
    const samples: Memory[] = []
    for (let run = 0; run < runs; run++) samples.push(await measure(script))
    const mib = (pick: (memory: Memory) => number): string =>
      (median(samples.map(pick)) / 2 ** 20).toFixed(1)
    rows.push([
      name,
      mib((m) => m.rss),
      samples.map((m) => (m.rss / 2 ** 20).toFixed(0)).join(', '),
      mib((m) => m.rssAnon),
      mib((m) => m.rssFile),
      mib((m) => m.heapTotal),
      mib((m) => m.heapUsed),
    ])
    process.stdout.write(`${name}: ${rows.at(-1)?.[1]} MiB RSS\n`)
    if (values.maps) {
      for (const [run, { rss, maps }] of samples.entries()) {
        const list = maps.map(
          ({ path, size, resident }) =>
            `${path === '' ? 'anonymous' : path} ${(resident / 2 ** 20).toFixed(1)} of ${(size / 2 ** 20).toFixed(1)}`,
        )
        process.stdout.write(
          `  start ${run + 1}: ${(rss / 2 ** 20).toFixed(1)} MiB RSS; resident MiB of mapping: ${list.join(', ')}\n`,
        )
      }
    }
  }
} finally {
  await bus.close()
}
const settings = [...flags, ...values.env].join(' ')
process.stdout.write(
  `\nIdle RSS, median of ${runs} plain-node starts each, ${values.idle} s after listening (MiB; Node.js ${process.version}${settings === '' ? '' : `; ${settings}`}):\n\n`,
)
process.stdout.write(
  `${markdownTable(
    ['process', 'RSS', 'RSS of each start', 'anonymous', 'file-backed', 'heap total', 'heap used'],
    rows,
    ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
  ).join('\n')}\n`,
)
