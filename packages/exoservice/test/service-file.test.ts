import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ExoServiceErrorCodes } from '../src/errors.js'
import { parseServiceFile } from '../src/service-file.js'

test('beforeAll and afterAll are reserved: service.yml may not name a message so', () => {
  for (const [key, name, line] of [
    ['receives', 'beforeAll', 4],
    ['sends', 'afterAll', 4],
  ] as const) {
    const text = `type: users\nmessages:\n  ${key}:\n    - ${name}\n`
    assert.throws(
      () => parseServiceFile(text, '/service/service.yml'),
      (error: { code: string; line: number; message: string }) => {
        assert.equal(error.code, ExoServiceErrorCodes.SERVICE_FILE)
        assert.equal(error.line, line)
        assert.equal(
          error.message,
          `/service/service.yml:${line}: messages.${key}[0] '${name}' is reserved: it names a lifecycle hook of the handler module, not a message. Rename the message, e.g. users.${name}.`,
        )
        return true
      },
    )
  }
})

test('a name that merely contains a hook name is a message like any other', () => {
  const service = parseServiceFile(
    'type: users\nmessages:\n  receives: [users.beforeAll, afterAll.done]\n',
    '/service/service.yml',
  )
  assert.deepEqual(service.receives, ['users.beforeAll', 'afterAll.done'])
})
