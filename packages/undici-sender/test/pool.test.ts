import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Pool } from 'undici'
import { createPool } from '../src/pool.js'

test("the pool of the sender and the bus is undici's own Pool, and it serves requests", async (t) => {
  const server = createServer((_request, res) => res.end('pong'))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => server.close())
  const pool = createPool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, {
    connections: 1,
  })
  t.after(() => pool.close())
  assert.ok(pool instanceof Pool)
  const response = await pool.request({ method: 'GET', path: '/' })
  assert.equal(await response.body.text(), 'pong')
})

// Decision 0014: src/pool.ts reaches into undici's private file for a smaller heap, and falls
// back to the entry point at run time. This test is what notices: it fails as soon as undici
// moves, renames or stops exporting that file, so the fallback never ships by accident.
test("undici's private pool module is still where src/pool.ts loads it, and is undici's own Pool", () => {
  const require = createRequire(import.meta.url)
  let pool: unknown
  assert.doesNotThrow(() => {
    pool = require('undici/lib/dispatcher/pool.js')
  }, 'undici/lib/dispatcher/pool.js moved: see docs/decisions/0014-undici-pool-module.md')
  assert.equal(
    pool,
    Pool,
    'undici/lib/dispatcher/pool.js is no longer the Pool that undici exports: see decision 0014',
  )
})

// internal.ts is what the bus imports: it must not reach undici's entry point either.
for (const entry of ['pool.ts', 'internal.ts']) {
  test(`creating a pool through src/${entry} loads undici’s Pool alone, not its entry point with fetch and WebSocket`, async () => {
    const module = fileURLToPath(new URL(`../src/${entry}`, import.meta.url))
    const script = `
      import { createRequire } from 'node:module'
      const { createPool } = await import(${JSON.stringify(module)})
      await createPool('http://127.0.0.1:9', {}).close()
      const loaded = Object.keys(createRequire(import.meta.url).cache)
      console.log(JSON.stringify({
        pool: loaded.some((file) => file.endsWith('/undici/lib/dispatcher/pool.js')),
        entry: loaded.some((file) => file.endsWith('/undici/index.js')),
        fetch: loaded.some((file) => file.includes('/undici/lib/web/fetch/')),
      }))`
    const { stdout } = await promisify(execFile)(process.execPath, [
      '--import',
      'tsx',
      '--input-type=module',
      '--eval',
      script,
    ])
    assert.deepEqual(JSON.parse(stdout), { pool: true, entry: false, fetch: false })
  })
}
