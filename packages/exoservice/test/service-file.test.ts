import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ExoServiceErrorCodes } from '../src/errors.js'
import { parseServiceFile, readServiceFile } from '../src/service-file.js'

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

test('each mistake in service.yml is refused with the file, the line where there is one, and the fix', () => {
  const file = '/service/service.yml'
  const cases: [text: string, line: number | undefined, message: RegExp][] = [
    ['type: users\nmessages: [\n', 3, /is not valid YAML: .*\. Fix the YAML at that line\.$/],
    ['type: users\ntype: web\n', 2, /is not valid YAML: Map keys must be unique\./],
    ['- users\n', undefined, /must be a YAML mapping with at least `type` and `messages`/],
    ['tpye: users\n', 1, /unknown key 'tpye'\. .*check the spelling\.$/],
    ['messages: {}\n', undefined, /has no `type`: add `type: <service-name>`/],
    ['type: users web\nmessages: {}\n', 1, /`type` must be a service name/],
    ['type: users\ndescription: [a]\nmessages: {}\n', 2, /`description` must be a string\./],
    ['type: users\nstartup: run\nmessages: {}\n', 2, /`startup` must be a mapping/],
    [
      'type: users\nstartup:\n  command: ""\nmessages: {}\n',
      3,
      /`startup\.command` must be a non-empty string\./,
    ],
    [
      'type: users\nserver: /srv/server.ts\nmessages: {}\n',
      2,
      /`server` must name the handler module relative to the service folder/,
    ],
    [
      'type: users\n',
      undefined,
      /has no `messages`: add `messages: \{ receives: \[\.\.\.\], sends: \[\.\.\.\] \}`/,
    ],
    [
      'type: users\nmessages: [a]\n',
      2,
      /`messages` must be a mapping with `receives` and `sends` lists\./,
    ],
    [
      'type: users\nmessages:\n  handles: [a.b]\n',
      3,
      /unknown key 'messages\.handles': only `receives`, `sends` and `contract` belong there\./,
    ],
    [
      'type: users\nmessages:\n  contract: /srv/contract.ts\n',
      3,
      /`messages\.contract` must name the contract module relative to the service folder, e\.g\. `contract: src\/contract\.ts`\./,
    ],
    [
      'type: users\nmessages:\n  contract: [src/contract.ts]\n',
      3,
      /`messages\.contract` must name the contract module relative to the service folder/,
    ],
    [
      'type: users\nmessages:\n  receives: users.create\n',
      3,
      /`messages\.receives` must be a list of message names\./,
    ],
    [
      'type: users\nmessages:\n  sends:\n    - users.\n',
      4,
      /messages\.sends\[0\] "users\." is not a valid message name/,
    ],
    [
      'type: users\nmessages:\n  receives: [a.b, c.d, a.b]\n',
      3,
      /messages\.receives lists 'a\.b' twice: remove one\./,
    ],
  ]
  for (const [text, line, message] of cases) {
    assert.throws(
      () => parseServiceFile(text, file),
      (error: { code: string; line: number | undefined; message: string }) => {
        assert.equal(error.code, ExoServiceErrorCodes.SERVICE_FILE, text)
        assert.equal(error.line, line, text)
        assert.ok(
          error.message.startsWith(`${file}${line === undefined ? '' : `:${line}`}: `),
          error.message,
        )
        assert.match(error.message, message, text)
        return true
      },
    )
  }
})

test('startup and server default as documented; description and sends are optional', () => {
  const service = parseServiceFile(
    'type: users\nmessages:\n  receives: [users.create]\n',
    '/srv/users/service.yml',
  )
  assert.deepEqual(service.startup, { command: 'exoservice run', onlineText: 'online at port' })
  assert.equal(service.server, undefined)
  assert.equal(service.description, undefined)
  assert.deepEqual(service.sends, [])
  assert.equal(service.folder, '/srv/users')
  assert.equal(service.contract, undefined)
})

test('messages.contract is resolved against the service folder', () => {
  const service = parseServiceFile(
    'type: users\nmessages:\n  receives: [users.create]\n  contract: src/contract.ts\n',
    '/srv/users/service.yml',
  )
  assert.equal(service.contract, '/srv/users/src/contract.ts')
})

test('a folder that does not exist is named as such, not as a missing service.yml', async () => {
  await assert.rejects(readServiceFile('/no/such/service'), {
    code: ExoServiceErrorCodes.SERVICE_FILE,
    message:
      "/no/such/service: no such folder. Name the service's folder (the one that holds its service.yml), e.g. `exoservice run ./users`.",
  })
})
