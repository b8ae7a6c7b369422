import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { parseServiceFile } from '../src/service-file.js'
import { exoserviceNew } from './new-helpers.js'

// `exoservice new` run as a user runs it, in a temporary folder. That the service it writes
// passes its own test and tsc is new-scaffold.test.ts.

const work = mkdtempSync(join(tmpdir(), 'exoservice-new-'))
after(() => rmSync(work, { recursive: true, force: true }))

/** A new empty folder to run the command in. */
function folder(): string {
  return mkdtempSync(join(work, 'cwd-'))
}

const ownManifest = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
) as { version: string; dependencies: Record<string, string> }

const FILES = [
  '.gitignore',
  'package.json',
  'README.md',
  'service.yml',
  'src/messages.ts',
  'src/server.ts',
  'test/server.test.ts',
  'tsconfig.json',
]

describe('exoservice new --help', () => {
  test('prints the usage on stdout and exits 0', async () => {
    const result = await exoserviceNew(['--help'], folder())
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /^Usage: exoservice new <name> \[options\]/)
    assert.match(result.stdout, /--directory <dir>/)
    assert.match(result.stdout, /--force/)
    assert.equal(result.stderr, '')
  })
})

describe('exoservice new with wrong usage exits 2 with one line and the usage, writing nothing', () => {
  const cases: [string, string[], RegExp][] = [
    ['no name', [], /^exoservice new: name the service, e.g. `exoservice new users`\.\n\nUsage:/],
    ['two names', ['users', 'orders'], /^exoservice new: one name only; got 'users', 'orders'\./],
    ['an unknown option', ['users', '--port', '3'], /^exoservice new: Unknown option '--port'/],
    [
      '--directory without a value',
      ['users', '--directory'],
      /^exoservice new: Option '-d, --directory <value>' argument missing/,
    ],
  ]
  for (const [what, args, expected] of cases) {
    test(what, async () => {
      const cwd = folder()
      const result = await exoserviceNew(args, cwd)
      assert.equal(result.code, 2, result.stderr)
      assert.match(result.stderr, expected)
      assert.match(result.stderr, /\n\nUsage: exoservice new <name>/)
      assert.equal(result.stdout, '')
      assert.equal(existsSync(join(cwd, 'users')), false)
    })
  }

  for (const name of [
    'a..b',
    'users.',
    '.hidden',
    '-users',
    '_users',
    'a b',
    'a/b',
    '../up',
    'ünï',
    '',
  ]) {
    test(`a name that is not a service name: ${JSON.stringify(name)}`, async () => {
      const cwd = folder()
      // After `--`, as a name starting with '-' must be given, so that it is not read as an option.
      const result = await exoserviceNew(['--', name], cwd)
      assert.equal(result.code, 2, result.stderr)
      assert.ok(
        result.stderr.startsWith(
          `exoservice new: ${JSON.stringify(name)} is not a service name: use letters, digits, '-' and '_' in parts joined by single dots, starting with a letter or a digit, e.g. users or shop.orders.\n`,
        ),
        result.stderr,
      )
      assert.equal(result.stdout, '')
    })
  }

  test('a name longer than an npm package name may be', async () => {
    const result = await exoserviceNew(['a'.repeat(215)], folder())
    assert.equal(result.code, 2, result.stderr)
    assert.match(
      result.stderr,
      /^exoservice new: the name is 215 characters long; use at most 214\./,
    )
  })
})

describe('exoservice new into a folder that is in the way', () => {
  test('refuses a folder that is not empty: exits 1 naming it, and changes nothing', async () => {
    const cwd = folder()
    mkdirSync(join(cwd, 'users'))
    writeFileSync(join(cwd, 'users/service.yml'), 'mine\n')
    const result = await exoserviceNew(['users'], cwd)
    assert.equal(result.code, 1, result.stderr)
    assert.equal(
      result.stderr,
      "exoservice new: users exists and is not empty. Choose another name or --directory, or pass --force to write the service's files into it (files of the same name are replaced).\n",
    )
    assert.equal(result.stdout, '')
    assert.equal(readFileSync(join(cwd, 'users/service.yml'), 'utf8'), 'mine\n')
    assert.equal(existsSync(join(cwd, 'users/package.json')), false)
  })

  test('refuses a file of that name: exits 1 naming it', async () => {
    const cwd = folder()
    writeFileSync(join(cwd, 'users'), 'a file\n')
    const result = await exoserviceNew(['users'], cwd)
    assert.equal(result.code, 1, result.stderr)
    assert.match(result.stderr, /^exoservice new: users exists and is not a folder\./)
  })

  test('writes into an empty folder', async () => {
    const cwd = folder()
    mkdirSync(join(cwd, 'users'))
    const result = await exoserviceNew(['users'], cwd)
    assert.equal(result.code, 0, result.stderr)
    assert.ok(existsSync(join(cwd, 'users/service.yml')))
  })

  test('with --force, writes into a folder that is not empty: replaces its files, keeps the others', async () => {
    const cwd = folder()
    mkdirSync(join(cwd, 'users'))
    writeFileSync(join(cwd, 'users/service.yml'), 'mine\n')
    writeFileSync(join(cwd, 'users/notes.txt'), 'kept\n')
    const result = await exoserviceNew(['users', '--force'], cwd)
    assert.equal(result.code, 0, result.stderr)
    assert.match(readFileSync(join(cwd, 'users/service.yml'), 'utf8'), /^type: users$/m)
    assert.equal(readFileSync(join(cwd, 'users/notes.txt'), 'utf8'), 'kept\n')
  })
})

describe('exoservice new <name>', () => {
  test('writes the service folder, lists what it wrote and prints the next steps', async () => {
    const cwd = folder()
    const result = await exoserviceNew(['users'], cwd)
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stderr, '')
    assert.equal(
      result.stdout,
      [
        'Wrote the users service in users:',
        ...FILES.map((file) => `  ${file}`),
        '',
        'Next steps:',
        '  cd users && npm install && npm test',
        '  EXOCOM_PORT=3100 npm start    # runs the service; it needs a bus: npx @exorelay/exocom',
        '',
      ].join('\n'),
    )
    for (const file of FILES) assert.ok(existsSync(join(cwd, 'users', file)), file)
  })

  test('the files name the service everywhere: no placeholder is left', async () => {
    const cwd = folder()
    assert.equal((await exoserviceNew(['shop.orders'], cwd)).code, 0)
    for (const file of FILES) {
      const text = readFileSync(join(cwd, 'shop.orders', file), 'utf8')
      assert.doesNotMatch(text, /__NAME__/, file)
    }
    assert.match(
      readFileSync(join(cwd, 'shop.orders/src/server.ts'), 'utf8'),
      /'shop\.orders\.hello': /,
    )
    // Markdown formatters turn a __placeholder__ into bold: the title must be the name itself.
    assert.equal(
      readFileSync(join(cwd, 'shop.orders/README.md'), 'utf8').split('\n')[0],
      '# shop.orders',
    )
  })

  test('service.yml is one that exoservice run reads: its type, a message it receives, the replies it sends', async () => {
    const cwd = folder()
    assert.equal((await exoserviceNew(['users'], cwd)).code, 0)
    const file = join(cwd, 'users/service.yml')
    const service = parseServiceFile(readFileSync(file, 'utf8'), file)
    assert.equal(service.type, 'users')
    assert.deepEqual(service.receives, ['users.hello'])
    assert.deepEqual(service.sends, ['users.greeted', 'users.not-greeted'])
    assert.deepEqual(service.startup, { command: 'exoservice run', onlineText: 'online at port' })
    assert.equal(service.server, undefined) // the default, src/server.ts
  })

  test("package.json: start and test scripts, this version of the packages, the repository's tool versions", async () => {
    const cwd = folder()
    assert.equal((await exoserviceNew(['Users'], cwd)).code, 0)
    const manifest = JSON.parse(readFileSync(join(cwd, 'Users/package.json'), 'utf8'))
    const root = JSON.parse(
      readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
    ) as { devDependencies: Record<string, string> }
    const range = `^${ownManifest.version}`
    assert.deepEqual(manifest, {
      // npm takes lowercase names only; the service's type keeps its case.
      name: 'users',
      version: '0.1.0',
      private: true,
      description: 'The Users service.',
      type: 'module',
      engines: { node: '>=22' },
      scripts: {
        start: 'exoservice run',
        test: 'node --import tsx --test --test-timeout=30000 test/*.test.ts',
        typecheck: 'tsc --noEmit',
      },
      dependencies: { exoservice: range, exorelay: range },
      devDependencies: {
        '@exorelay/testing': range,
        '@types/node': root.devDependencies['@types/node'],
        tsx: ownManifest.dependencies.tsx,
        typescript: root.devDependencies.typescript,
      },
    })
    assert.match(readFileSync(join(cwd, 'Users/service.yml'), 'utf8'), /^type: Users$/m)
  })

  test('--directory writes to that folder, and the next steps go there', async () => {
    const cwd = folder()
    const result = await exoserviceNew(['users', '--directory', 'services/users-service'], cwd)
    assert.equal(result.code, 0, result.stderr)
    assert.ok(existsSync(join(cwd, 'services/users-service/service.yml')))
    assert.equal(existsSync(join(cwd, 'users')), false)
    assert.match(result.stdout, /^Wrote the users service in services\/users-service:/)
    assert.match(result.stdout, /^ {2}cd services\/users-service && npm install && npm test$/m)
  })

  test('--directory . writes into the current folder when it is empty', async () => {
    const cwd = folder()
    const result = await exoserviceNew(['users', '-d', '.'], cwd)
    assert.equal(result.code, 0, result.stderr)
    assert.ok(existsSync(join(cwd, 'service.yml')))
    assert.match(result.stdout, /^ {2}npm install && npm test$/m)
  })
})
