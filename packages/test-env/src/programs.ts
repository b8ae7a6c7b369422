import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { findChromium, findNatsServer } from '@exorelay/testing'
import { lastLine, type RunCommand, runCommand } from './commands.js'

/** A program the tests start, and how to get it. */
export interface Program {
  readonly name: string
  /** Its path, or `undefined` when it is not installed. */
  readonly find: () => string | undefined
  /** The Debian (and Ubuntu) package that installs it. */
  readonly debianPackage: string
  /** How to get it where there is no apt-get. */
  readonly elsewhere: string
}

/** The NATS transport's tests start real nats-server processes. */
export const NATS_SERVER: Program = {
  name: 'nats-server',
  find: findNatsServer,
  debianPackage: 'nats-server',
  elsewhere:
    'brew install nats-server, or a release from https://github.com/nats-io/nats-server/releases',
}

/** The dev page's test (packages/exorelay/test/ui-browser.test.ts) drives a headless Chromium. */
export const CHROMIUM: Program = {
  name: 'chromium',
  find: findChromium,
  debianPackage: 'chromium',
  elsewhere: 'brew install --cask chromium, or the chromium package of your distribution',
}

/** Every program the test suite needs. */
export const PROGRAMS: readonly Program[] = [NATS_SERVER, CHROMIUM]

/** A program the tests need is missing and could not be installed here. */
export class MissingProgramError extends Error {
  override readonly name = 'MissingProgramError'
  readonly code = 'EXORELAY_TEST_ENV_MISSING_PROGRAM'
}

/** How this machine can install a Debian package, if it can. */
export type Installer = { readonly sudo: boolean } | undefined

/** What ensureProgram needs from the machine: overridable in tests. */
export interface Machine {
  readonly installer: () => Promise<Installer>
  readonly run: RunCommand
  readonly log: (line: string) => void
}

function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    if (dir === '') return false
    try {
      accessSync(join(dir, name), constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

/**
 * apt-get as root, or through sudo when sudo needs no password: a test run must never stop at
 * a password prompt.
 */
async function systemInstaller(): Promise<Installer> {
  if (!onPath('apt-get')) return undefined
  if (process.getuid?.() === 0) return { sudo: false }
  if (!onPath('sudo')) return undefined
  const probe = await runCommand('sudo', ['-n', 'true'], { timeoutMs: 10_000 })
  return probe.code === 0 ? { sudo: true } : undefined
}

export const systemMachine: Machine = {
  installer: systemInstaller,
  run: runCommand,
  log: (line) => console.log(line),
}

/**
 * Finds `program`, installing its Debian package first when it is missing and this machine
 * can (root, or sudo without a password). Resolves to its path; rejects with a one-line
 * MissingProgramError that says how to get it otherwise.
 */
export async function ensureProgram(program: Program, machine = systemMachine): Promise<string> {
  const found = program.find()
  if (found !== undefined) return found
  const howTo = `install it (apt-get install ${program.debianPackage}; elsewhere: ${program.elsewhere}) and run the tests again`
  const installer = await machine.installer()
  if (installer === undefined) {
    throw new MissingProgramError(
      `The tests need ${program.name}, which is not installed, and this machine cannot install it without a password (no root, no password-less sudo, or no apt-get): ${howTo}.`,
    )
  }
  const prefix = installer.sudo ? ['sudo', '-n'] : []
  const apt = (...args: string[]) => {
    const [command = 'apt-get', ...rest] = [...prefix, 'apt-get', ...args]
    return machine.run(command, rest, {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    })
  }
  machine.log(
    `test-env: ${program.name} is missing; installing the Debian package ${program.debianPackage}`,
  )
  const update = await apt('update')
  const install = update.code === 0 ? await apt('install', '-y', program.debianPackage) : update
  if (install.code !== 0) {
    throw new MissingProgramError(
      `The tests need ${program.name}, and installing it with apt-get failed (${lastLine(install.output)}): ${howTo}.`,
    )
  }
  const installed = program.find()
  if (installed === undefined) {
    throw new MissingProgramError(
      `The tests need ${program.name}: apt-get installed ${program.debianPackage}, but ${program.name} is still not on PATH, /usr/sbin or /usr/local/bin: ${howTo}.`,
    )
  }
  machine.log(`test-env: installed ${program.name} at ${installed}`)
  return installed
}
