import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { ExoServiceErrorCodes } from '../src/errors.js'
import { loadHandlers } from '../src/load-handlers.js'
import { parseServiceFile } from '../src/service-file.js'

/** A service folder with a service.yml and these files, in a temporary directory. */
async function service(
  t: { after(fn: () => unknown): void },
  yml: string,
  files: Record<string, string>,
) {
  const folder = await mkdtemp(join(tmpdir(), 'exoservice-load-'))
  t.after(() => rm(folder, { recursive: true, force: true }))
  await writeFile(join(folder, 'service.yml'), yml)
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(folder, path)), { recursive: true })
    await writeFile(join(folder, path), text)
  }
  return parseServiceFile(yml, join(folder, 'service.yml'))
}

const YML = 'type: users\nmessages:\n  receives: [users.create]\n'

test('src/server.ts comes before src/server.js, and TypeScript loads through tsx', async (t) => {
  const users = await service(t, YML, {
    'src/server.ts':
      "const create = (_user: unknown): void => {}\nexport default { 'users.create': create }\n",
    'src/server.js': 'export default {}\n',
  })
  const loaded = await loadHandlers(users)
  assert.equal(loaded.file, join(users.folder, 'src', 'server.ts'))
  assert.deepEqual(Object.keys(loaded.handlers), ['users.create'])
  assert.deepEqual(loaded.hooks, {})
  assert.deepEqual(loaded.warnings, [])
})

test('`server` in service.yml names the module, .mts included; hooks are kept apart from handlers', async (t) => {
  const users = await service(t, `${YML}server: lib/handlers.mts\n`, {
    'lib/handlers.mts':
      "export default { beforeAll() {}, afterAll() {}, 'users.create': () => {} }\n",
  })
  const loaded = await loadHandlers(users)
  assert.equal(loaded.file, join(users.folder, 'lib', 'handlers.mts'))
  assert.deepEqual(Object.keys(loaded.handlers), ['users.create'])
  assert.deepEqual(Object.keys(loaded.hooks), ['beforeAll', 'afterAll'])
})

test('a CommonJS module compiled from `export default` is unwrapped', async (t) => {
  const users = await service(t, `${YML}server: server.cjs\n`, {
    'server.cjs':
      "Object.defineProperty(exports, '__esModule', { value: true })\nexports.default = { 'users.create': () => {} }\n",
  })
  assert.deepEqual(Object.keys((await loadHandlers(users)).handlers), ['users.create'])
})

test('a TypeScript module that does not compile: one line naming the module and where it fails', async (t) => {
  const users = await service(t, YML, { 'src/server.ts': 'export default {\n' })
  await assert.rejects(loadHandlers(users), (error: { code: string; message: string }) => {
    assert.equal(error.code, ExoServiceErrorCodes.HANDLERS)
    const file = join(users.folder, 'src', 'server.ts')
    assert.equal(
      error.message,
      `${file}: the module does not parse: Expected identifier but found end of file at ${file}:2:0. Fix the syntax error there.`,
    )
    assert.doesNotMatch(error.message, /\n/)
    return true
  })
})

test('a thrown message that ends with a period is not doubled', async (t) => {
  const users = await service(t, YML, { 'src/server.js': "throw new Error('No database.')\n" })
  await assert.rejects(loadHandlers(users), /threw while loading: No database\. Fix the error/)
})
