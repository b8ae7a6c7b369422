import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { test } from 'node:test'
import type { CommandResult } from '../src/commands.js'
import {
  CHROMIUM,
  ensureProgram,
  type Installer,
  type Machine,
  MissingProgramError,
  PROGRAMS,
  type Program,
} from '../src/programs.js'

const missing: Program = {
  name: 'fake-server',
  find: () => undefined,
  debianPackage: 'fake-server-deb',
  elsewhere: 'https://example.org/fake-server',
}

function machine(installer: Installer, results: CommandResult[] = []) {
  const ran: string[] = []
  const logged: string[] = []
  const fake: Machine = {
    installer: async () => installer,
    run: async (command, args) => {
      ran.push([command, ...args].join(' '))
      return results.shift() ?? { code: 0, output: '' }
    },
    log: (line) => logged.push(line),
  }
  return { fake, ran, logged }
}

test('a program that is installed is used as it is: nothing is installed', async () => {
  const { fake, ran } = machine({ sudo: false })
  const path = await ensureProgram({ ...missing, find: () => '/opt/bin/fake-server' }, fake)
  assert.equal(path, '/opt/bin/fake-server')
  assert.deepEqual(ran, [])
})

test('a missing program on a machine that cannot install it fails with one line that says how to get it', async () => {
  const { fake, ran } = machine(undefined)
  const error = await ensureProgram(missing, fake).then(
    () => assert.fail('expected a MissingProgramError'),
    (e: unknown) => e,
  )
  assert.ok(error instanceof MissingProgramError)
  assert.equal(error.code, 'EXORELAY_TEST_ENV_MISSING_PROGRAM')
  assert.doesNotMatch(error.message, /\n/)
  assert.match(error.message, /The tests need fake-server, which is not installed/)
  assert.match(
    error.message,
    /apt-get install fake-server-deb; elsewhere: https:\/\/example\.org\/fake-server/,
  )
  assert.deepEqual(ran, [])
})

test('as root, a missing program is installed with apt-get, without a prompt', async () => {
  let installed = false
  const { fake, ran, logged } = machine({ sudo: false }, [
    { code: 0, output: 'Reading package lists...' },
    { code: 0, output: 'Setting up fake-server-deb' },
  ])
  const original = fake.run
  const path = await ensureProgram(
    { ...missing, find: () => (installed ? '/usr/sbin/fake-server' : undefined) },
    {
      ...fake,
      run: async (command, args, options) => {
        assert.equal(options?.env?.DEBIAN_FRONTEND, 'noninteractive')
        const result = await original(command, args, options)
        if (args.includes('install')) installed = true
        return result
      },
    },
  )
  assert.equal(path, '/usr/sbin/fake-server')
  assert.deepEqual(ran, ['apt-get update', 'apt-get install -y fake-server-deb'])
  assert.deepEqual(logged, [
    'test-env: fake-server is missing; installing the Debian package fake-server-deb',
    'test-env: installed fake-server at /usr/sbin/fake-server',
  ])
})

test('with password-less sudo, apt-get runs through sudo -n', async () => {
  const { fake, ran } = machine({ sudo: true })
  await assert.rejects(ensureProgram(missing, fake), MissingProgramError)
  assert.deepEqual(ran, ['sudo -n apt-get update', 'sudo -n apt-get install -y fake-server-deb'])
})

test('an apt-get that fails is one line with its last line of output', async () => {
  const { fake, ran } = machine({ sudo: false }, [
    {
      code: 100,
      output: 'Reading package lists...\nE: Could not get lock /var/lib/apt/lists/lock\n',
    },
  ])
  await assert.rejects(ensureProgram(missing, fake), (error: Error) => {
    assert.ok(error instanceof MissingProgramError)
    assert.match(
      error.message,
      /installing it with apt-get failed \(E: Could not get lock \/var\/lib\/apt\/lists\/lock\)/,
    )
    assert.doesNotMatch(error.message, /\n/)
    return true
  })
  assert.deepEqual(ran, ['apt-get update'])
})

test('the suite needs nats-server and chromium, each from its Debian package', () => {
  assert.deepEqual(
    PROGRAMS.map((program) => [program.name, program.debianPackage]),
    [
      ['nats-server', 'nats-server'],
      ['chromium', 'chromium'],
    ],
  )
})

test('chromium is found where Debian installs it', {
  skip: !existsSync('/usr/bin/chromium'),
}, () => {
  assert.equal(CHROMIUM.find(), '/usr/bin/chromium')
})
