import { createRequire } from 'node:module'
import type { Pool } from 'undici'

// `import { Pool } from 'undici'` loads all of undici: fetch, WebSocket, caches, mocks, proxy
// agents. A relay only ever needs a Pool, and loading its module alone leaves about 11 MB
// less on the heap of every relay process. undici has no exports map, so the module can be
// loaded by its path; should a later undici move it or close its internals, the package's
// entry point still works, and test/pool.test.ts fails loudly so that it is noticed
// (docs/decisions/0014-undici-pool-module.md).
const require = createRequire(import.meta.url)
const PoolClass = loadPool()

/** A keep-alive undici `Pool` for `origin`. */
export function createPool(origin: string, options: Pool.Options): Pool {
  return new PoolClass(origin, options)
}

function loadPool(): typeof Pool {
  try {
    const pool: unknown = require('undici/lib/dispatcher/pool.js')
    if (typeof pool === 'function') return pool as typeof Pool
  } catch {
    // Moved or not exported: take it from the entry point below.
  }
  return (require('undici') as typeof import('undici')).Pool
}
