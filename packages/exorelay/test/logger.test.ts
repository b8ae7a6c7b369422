import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { type Logger, silentLogger } from '@exorelay/core'
import { createLogger } from '../src/logger.js'

describe('createLogger', () => {
  test('logger false is the silent logger', () => {
    assert.equal(createLogger(false, 'users'), silentLogger)
  })

  test("a logger of the service's own is used as it is, with the service name bound", () => {
    const bindings: object[] = []
    const own: Logger = {
      debug() {},
      info() {},
      warn() {},
      error() {},
      child(fields) {
        bindings.push(fields)
        return own
      },
    }
    assert.equal(createLogger(own, 'users'), own)
    assert.deepEqual(bindings, [{ service: 'users' }])
  })

  test('pino options build a pino logger at the level they name', () => {
    const logger = createLogger({ level: 'debug' }, 'users') as Logger & { level: string }
    assert.equal(logger.level, 'debug')
    assert.equal(logger.isLevelEnabled?.('debug'), true)
  })

  test('pino is loaded only for a relay that builds its own logger', async () => {
    // A fresh process, so that only what the relay itself imported is in the module cache.
    const source = new URL('../src/index.ts', import.meta.url).href
    const script = `
      import { createRequire } from 'node:module'
      const { ExoRelay } = await import(${JSON.stringify(source)})
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((file) => /[\\\\/]node_modules[\\\\/]pino[\\\\/]/.test(file))
      const option = JSON.parse(process.argv[1])
      const afterImport = loaded()
      const relay = new ExoRelay({ serviceName: 'web', exocomPort: 1, ...option })
      const afterCreate = loaded()
      await relay.close()
      console.log(JSON.stringify({ afterImport, afterCreate }))
    `
    const run = async (option: Record<string, unknown>) => {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '--eval', script, JSON.stringify(option)],
        {
          cwd: fileURLToPath(new URL('..', import.meta.url)),
          env: { ...process.env, LOG_LEVEL: 'silent' },
        },
      )
      return JSON.parse(stdout) as { afterImport: boolean; afterCreate: boolean }
    }
    const [silent, pino] = await Promise.all([run({ logger: false }), run({})])
    assert.deepEqual(silent, { afterImport: false, afterCreate: false })
    assert.deepEqual(pino, { afterImport: false, afterCreate: true })
  })
})
