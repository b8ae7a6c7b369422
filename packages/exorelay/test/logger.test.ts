import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify, stripVTControlCharacters } from 'node:util'
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

  describe('the default logger writes', () => {
    // A relay in a fresh process that goes online and closes: two info lines on stdout.
    const source = new URL('../src/index.ts', import.meta.url).href
    const script = `
      const { ExoRelay } = await import(${JSON.stringify(source)})
      const relay = new ExoRelay({ serviceName: 'web', exocomPort: 1, register: false, port: 0 })
      await relay.listen()
      await relay.close()
    `
    const cwd = fileURLToPath(new URL('..', import.meta.url))
    const nodeArgs = ['--import', 'tsx', '--input-type=module', '--eval', script]
    const run = async (file: string, args: string[], env: Record<string, string> = {}) => {
      const { LOG_FORMAT: _unset, ...inherited } = process.env
      const { stdout } = await promisify(execFile)(file, args, {
        cwd,
        env: { ...inherited, LOG_LEVEL: 'info', ...env },
        timeout: 60_000,
      })
      return stdout
    }
    // `script` runs the command on a pseudo-terminal: stdout is a TTY, as in a shell.
    const onTerminal = (env: Record<string, string> = {}) =>
      run(
        'script',
        [
          '-qec',
          [process.execPath, ...nodeArgs]
            .map((arg) => `'${arg.replaceAll("'", "'\\''")}'`)
            .join(' '),
          '/dev/null',
        ],
        env,
      )
    const hasScript =
      execFileSync('sh', ['-c', 'command -v script || true']).toString().trim() !== ''

    test('JSON lines into a pipe', async () => {
      const lines = (await run(process.execPath, nodeArgs)).trim().split('\n')
      const records = lines.map((line) => JSON.parse(line) as { msg: string; service: string })
      assert.deepEqual(
        records.map(({ msg, service }) => [service, msg]),
        [
          ['web', 'online'],
          ['web', 'closing: new messages are refused while handlers finish'],
          ['web', 'offline'],
        ],
      )
    })

    test('pretty lines on a terminal, as the bus does', {
      skip: !hasScript && 'no script(1) here',
    }, async () => {
      // Without the colours, the lines as a person reads them.
      const output = stripVTControlCharacters(await onTerminal())
      const messages = output
        .split(/\r?\n/)
        .filter((line) => line.startsWith('['))
        .map((line) => line.replace(/^\[[0-9:.]+\] /, ''))
      assert.deepEqual(messages, [
        'INFO: web: online',
        'INFO: web: closing: new messages are refused while handlers finish',
        'INFO: web: offline',
      ])
    })

    test('JSON lines on a terminal with LOG_FORMAT=json', {
      skip: !hasScript && 'no script(1) here',
    }, async () => {
      const output = await onTerminal({ LOG_FORMAT: 'json' })
      const first = JSON.parse(output.trim().split(/\r?\n/)[0] ?? '') as { msg: string }
      assert.equal(first.msg, 'online')
    })
  })
})
