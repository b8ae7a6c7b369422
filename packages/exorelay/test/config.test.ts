import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DEFAULT_EXOCOM_HOST, DEFAULT_HOST, DEFAULT_PORT, resolveConfig } from '../src/config.js'
import { ErrorCodes, ExoRelay } from '../src/index.js'

test('settings fall back to the orchestrator environment variables', () => {
  const config = resolveConfig(
    {
      env: {
        SERVICE_NAME: 'users',
        EXOCOM_HOST: 'bus.local',
        EXOCOM_PORT: '3100',
        EXORELAY_PORT: '4001',
        EXORELAY_HOST: '0.0.0.0',
        EXOCOM_TOKEN: 's3cret',
      },
    },
    true,
  )
  assert.deepEqual(config, {
    serviceName: 'users',
    exocomHost: 'bus.local',
    exocomPort: 3100,
    port: 4001,
    host: '0.0.0.0',
    advertisedHost: 'localhost',
    timeout: 10_000,
    token: 's3cret',
  })
})

test('options win over the environment', () => {
  const config = resolveConfig(
    {
      serviceName: 'web',
      exocomPort: 5000,
      port: 0,
      env: { SERVICE_NAME: 'users', EXOCOM_PORT: '3100' },
    },
    true,
  )
  assert.equal(config.serviceName, 'web')
  assert.equal(config.exocomPort, 5000)
  assert.equal(config.port, 0)
})

test('defaults: ExoCom on localhost, the relay on 127.0.0.1:4000', () => {
  const config = resolveConfig({ serviceName: 'web', exocomPort: 3100, env: {} }, true)
  assert.equal(config.exocomHost, DEFAULT_EXOCOM_HOST)
  assert.equal(config.host, DEFAULT_HOST)
  assert.equal(config.advertisedHost, DEFAULT_HOST)
  assert.equal(config.port, DEFAULT_PORT)
})

test('a missing service name names both the option and the variable', () => {
  assert.throws(() => new ExoRelay({ exocomPort: 3100, env: {} }), {
    code: ErrorCodes.MISSING_OPTION,
    message: /serviceName option or the SERVICE_NAME environment variable/,
  })
})

test('a missing ExoCom port names both the option and the variable', () => {
  assert.throws(() => new ExoRelay({ serviceName: 'web', env: {} }), {
    code: ErrorCodes.MISSING_OPTION,
    message: /exocomPort option or the EXOCOM_PORT environment variable/,
  })
})

test('a non-numeric port from the environment is an invalid option that quotes it', () => {
  assert.throws(() => new ExoRelay({ serviceName: 'web', env: { EXOCOM_PORT: 'zonk' } }), {
    code: ErrorCodes.INVALID_OPTION,
    message: /EXOCOM_PORT.*'zonk'/,
  })
  assert.throws(
    () => new ExoRelay({ serviceName: 'web', exocomPort: 3100, env: { EXORELAY_PORT: '99999' } }),
    {
      code: ErrorCodes.INVALID_OPTION,
    },
  )
})

test('listen with a non-numeric port rejects with a coded error', async () => {
  const relay = new ExoRelay({ serviceName: 'web', exocomPort: 3100, logger: false, env: {} })
  await assert.rejects(relay.listen('zonk'), { code: ErrorCodes.INVALID_OPTION, message: /'zonk'/ })
  await relay.close()
})

test('no ExoCom port is needed with a transport of its own', () => {
  const relay = new ExoRelay({
    serviceName: 'web',
    env: {},
    logger: false,
    transport: { listen: async () => ({ port: 0 }), send: async () => {}, close: async () => {} },
  })
  assert.equal(relay.serviceName, 'web')
})
