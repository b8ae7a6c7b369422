import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { ExoServiceErrorCodes, readApplicationFile } from '../src/index.js'

const SERVICE_YML = 'type: users\nmessages:\n  receives: [users.create]\n  sends: [users.created]\n'

/** A temporary folder with `files` (path → text) in it, removed after the test. */
async function folderWith(
  t: { after: (fn: () => Promise<void>) => void },
  files: Record<string, string>,
): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'exoservice-landscape-'))
  t.after(() => rm(root, { recursive: true, force: true }))
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true })
    await writeFile(join(root, path), text)
  }
  return root
}

async function rejection(file: string): Promise<{ code: string; message: string; line?: number }> {
  try {
    await readApplicationFile(file)
  } catch (error) {
    return error as { code: string; message: string; line?: number }
  }
  assert.fail(`${file} was read without an error`)
}

test('an application file lists services in groups or not, each with its service.yml', async (t) => {
  const root = await folderWith(t, {
    'application.yml':
      'name: shop\nbus:\n  type: exocom\n  port: 4100\nservices:\n  public:\n    web:\n      location: ./web\n  users:\n    location: ./users\n',
    'web/service.yml': 'type: web\nmessages:\n  sends: [users.create]\n',
    'users/service.yml': SERVICE_YML,
  })
  const application = await readApplicationFile(join(root, 'application.yml'))
  assert.equal(application.name, 'shop')
  assert.deepEqual(application.bus, { type: 'exocom', port: 4100 })
  assert.deepEqual(
    application.services.map(({ name, group, folder }) => ({ name, group, folder })),
    [
      { name: 'web', group: 'public', folder: join(root, 'web') },
      { name: 'users', group: undefined, folder: join(root, 'users') },
    ],
  )
  assert.deepEqual(application.services[1]?.service.receives, ['users.create'])
  assert.equal(application.version, undefined)
})

test('an application file may give its version, kept as written', async (t) => {
  const root = await folderWith(t, {
    'application.yml': 'version: 2.10\nservices:\n  users:\n    location: ./users\n',
    'users/service.yml': SERVICE_YML,
  })
  const application = await readApplicationFile(join(root, 'application.yml'))
  assert.equal(application.version, '2.10')
  await writeFile(
    join(root, 'application.yml'),
    'version: [2]\nservices:\n  users:\n    location: ./users\n',
  )
  const error = await rejection(join(root, 'application.yml'))
  assert.equal(error.code, ExoServiceErrorCodes.APPLICATION_FILE)
  assert.equal(error.line, 1)
  assert.match(error.message, /`version` must be a string, e\.g\. `version: 1\.2\.0`\.$/)
})

test('a missing application file names the file and how to name another', async (t) => {
  const root = await folderWith(t, {})
  const error = await rejection(join(root, 'application.yml'))
  assert.equal(error.code, ExoServiceErrorCodes.APPLICATION_FILE)
  assert.match(error.message, /application\.yml: no such file\. .*exoservice landscape <file>/)
})

test('an application file that is not YAML names the line', async (t) => {
  const root = await folderWith(t, {
    'application.yml': 'name: shop\nservices:\n  users:\n    location: [./users\n',
  })
  const error = await rejection(join(root, 'application.yml'))
  assert.equal(error.code, ExoServiceErrorCodes.APPLICATION_FILE)
  assert.match(
    error.message,
    /application\.yml:\d+: is not valid YAML: .*Fix the YAML at that line\.$/,
  )
})

for (const [what, text] of [
  ['no `services`', 'name: shop\n'],
  ['an empty `services`', 'name: shop\nservices:\n'],
  ['only empty groups', 'services:\n  public: {}\n'],
] as const) {
  test(`an application file with ${what} says to list the services`, async (t) => {
    const root = await folderWith(t, { 'application.yml': text })
    const error = await rejection(join(root, 'application.yml'))
    assert.equal(error.code, ExoServiceErrorCodes.APPLICATION_FILE)
    assert.match(error.message, /lists no services: add `services:`/)
  })
}

test('a location that does not exist names its line and the path', async (t) => {
  const root = await folderWith(t, {
    'application.yml':
      'services:\n  users:\n    location: ./users\n  web:\n    location: ./nowhere\n',
    'users/service.yml': SERVICE_YML,
  })
  const error = await rejection(join(root, 'application.yml'))
  assert.equal(error.code, ExoServiceErrorCodes.APPLICATION_FILE)
  assert.equal(error.line, 5)
  assert.match(
    error.message,
    /application\.yml:5: the location of 'web', '\.\/nowhere' .* does not exist: fix the path/,
  )
})

test("a location without a service.yml is that service file's error", async (t) => {
  const root = await folderWith(t, {
    'application.yml': 'services:\n  users:\n    location: ./users\n',
    'users/README.md': 'no service.yml here',
  })
  const error = await rejection(join(root, 'application.yml'))
  assert.equal(error.code, ExoServiceErrorCodes.SERVICE_FILE)
  assert.match(error.message, /users\/service\.yml: no such file/)
})

test('two services with one name, in two groups, name both lines', async (t) => {
  const root = await folderWith(t, {
    'application.yml':
      'services:\n  public:\n    users:\n      location: ./users\n  private:\n    users:\n      location: ./users\n',
    'users/service.yml': SERVICE_YML,
  })
  const error = await rejection(join(root, 'application.yml'))
  assert.equal(error.code, ExoServiceErrorCodes.APPLICATION_FILE)
  assert.match(
    error.message,
    /application\.yml:6: the service name 'users' is listed twice \(first at line 3\): .*rename one\./,
  )
})

test('a service without a location, and a bus that is not ExoCom, say what to write', async (t) => {
  const root = await folderWith(t, {
    'no-location.yml': 'services:\n  users:\n    location: ./users\n  web: { image: web }\n',
    'nats.yml': 'bus:\n  type: nats\nservices:\n  users:\n    location: ./users\n',
    'users/service.yml': SERVICE_YML,
  })
  const noLocation = await rejection(join(root, 'no-location.yml'))
  assert.match(
    noLocation.message,
    /no-location\.yml:4: 'web' is neither a service \(it has no `location`\) nor a group.*give it `location: \.\/folder`/,
  )
  const nats = await rejection(join(root, 'nats.yml'))
  assert.match(
    nats.message,
    /nats\.yml:2: bus\.type "nats" is not run here: .*EXORELAY_TRANSPORT=nats/,
  )
})

test('a key that is a list, a mapping or empty is named as such, not as a key called undefined', async (t) => {
  const cases: [string, RegExp][] = [
    [
      '? [a, b]\n: 1\nservices: {}\n',
      /:1: a key that is a list, not a name\. An application file has /,
    ],
    ['{ a: 1 }: x\n', /:1: a key that is a mapping, not a name\. /],
    ['bus:\n  : 3100\n', /:2: a key that is empty, not a name: the bus has a type and a port\./],
    [
      'services:\n  users:\n    location: ./users\n    ? [x]\n    : 1\n',
      /:4: a key that is a list, not a name in service 'users': /,
    ],
  ]
  for (const [text, message] of cases) {
    const root = await folderWith(t, { 'application.yml': text })
    const error = await rejection(join(root, 'application.yml'))
    assert.equal(error.code, ExoServiceErrorCodes.APPLICATION_FILE)
    assert.doesNotMatch(error.message, /undefined/)
    assert.match(error.message, message)
  }
})
