import assert from 'node:assert/strict'
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { pathToFileURL } from 'node:url'

type ErrorsModule = typeof import('../src/errors.js')

// Two installs of core are two files on disk, so two module instances with their own classes.
// Copying errors.ts (it imports nothing) into two folders and importing both reproduces that
// without depending on dist being built.
async function loadTwoCopies(t: { after: (fn: () => Promise<void>) => void }) {
  const root = await mkdtemp(join(tmpdir(), 'exorelay-errors-'))
  t.after(() => rm(root, { recursive: true, force: true }))
  const copies: ErrorsModule[] = []
  for (const name of ['a', 'b']) {
    const folder = join(root, name)
    await mkdir(folder)
    await writeFile(join(folder, 'package.json'), '{ "type": "module" }\n')
    await copyFile(new URL('../src/errors.ts', import.meta.url), join(folder, 'errors.ts'))
    copies.push(await import(pathToFileURL(join(folder, 'errors.ts')).href))
  }
  return copies as [ErrorsModule, ErrorsModule]
}

const CLASS_NAMES = [
  'ExoRelayError',
  'InvalidArgumentError',
  'TimeoutError',
  'AbortError',
  'TransportError',
  'ClosedError',
  'ListenError',
  'ProtocolError',
  'HandlerError',
  'RemoteHandlerError',
  'PayloadInvalidError',
] as const
type ClassName = (typeof CLASS_NAMES)[number]
type AnyErrorClass = new (...args: any[]) => Error

// One instance of each class of a copy, built the way core builds it.
function examples(m: ErrorsModule): Array<[ClassName, Error]> {
  return [
    ['ExoRelayError', new m.ExoRelayError(m.ErrorCodes.CLOSED, 'base')],
    ['InvalidArgumentError', new m.InvalidArgumentError(m.ErrorCodes.INVALID_NAME, 'bad name')],
    ['TimeoutError', new m.TimeoutError('too late', 100)],
    ['AbortError', new m.AbortError(m.ErrorCodes.ABORTED, 'aborted')],
    ['TransportError', new m.TransportError(m.ErrorCodes.BUS_REFUSED, 'refused', { status: 503 })],
    ['ClosedError', new m.ClosedError(m.ErrorCodes.CLOSED, 'closed')],
    ['ListenError', new m.ListenError(m.ErrorCodes.ADDRESS_IN_USE, 'in use')],
    ['ProtocolError', new m.ProtocolError(m.ErrorCodes.MISSING_ID, 'missing message id')],
    ['HandlerError', new m.HandlerError(m.ErrorCodes.HANDLER_FAILED, 'handler failed')],
    ['RemoteHandlerError', new m.RemoteHandlerError('remote failed', 'APP_ERR_X', { sku: 1 })],
    [
      'PayloadInvalidError',
      new m.PayloadInvalidError(m.ErrorCodes.PAYLOAD_INVALID, 'invalid', {
        messageName: 'users.create',
        issues: [],
      }),
    ],
  ]
}

test('the two copies are distinct classes, so the test checks something', async (t) => {
  const [a, b] = await loadTwoCopies(t)
  assert.notEqual(a.ExoRelayError, b.ExoRelayError)
  assert.notEqual(a.TimeoutError, b.TimeoutError)
})

test('the test lists every error class errors.ts exports', async (t) => {
  const [a] = await loadTwoCopies(t)
  const exported = Object.entries(a as Record<string, unknown>)
    .filter(([, value]) => typeof value === 'function' && value.prototype instanceof Error)
    .map(([key]) => key)
    .sort()
  assert.deepEqual(exported, [...CLASS_NAMES].sort())
})

test('an error of one copy is an instance of its own class and of the base in the other copy, and of no other class', async (t) => {
  const [a, b] = await loadTwoCopies(t)
  for (const [from, to] of [
    [a, b],
    [b, a],
  ] as const) {
    for (const [name, error] of examples(from)) {
      for (const other of CLASS_NAMES) {
        const expected = other === name || other === 'ExoRelayError'
        const cls = to[other] as AnyErrorClass
        assert.equal(error instanceof cls, expected, `${name} instanceof other copy's ${other}`)
      }
      assert.ok(error instanceof Error, name)
    }
  }
})

test('isExoRelayError of either copy agrees with instanceof for errors of both copies', async (t) => {
  const [a, b] = await loadTwoCopies(t)
  for (const check of [a, b]) {
    for (const m of [a, b]) {
      for (const [name, error] of examples(m)) {
        assert.equal(check.isExoRelayError(error), error instanceof check.ExoRelayError, name)
        assert.ok(check.isExoRelayError(error), name)
        const code = (error as InstanceType<ErrorsModule['ExoRelayError']>).code
        assert.ok(check.isExoRelayError(error, code), name)
        assert.equal(check.isExoRelayError(error, check.ErrorCodes.UNAUTHORIZED), false, name)
      }
    }
  }
})

test('values that are not ExoRelay errors are instances of no error class of any copy', async (t) => {
  const [a, b] = await loadTwoCopies(t)
  const others: unknown[] = [
    new Error('plain'),
    new TypeError('type'),
    { code: a.ErrorCodes.CLOSED, name: 'ClosedError', message: 'look-alike' },
    null,
    undefined,
    0,
    'ClosedError',
    Symbol.for('exorelay.error.ClosedError'),
  ]
  for (const m of [a, b]) {
    for (const value of others) {
      for (const name of CLASS_NAMES) {
        assert.equal(value instanceof (m[name] as AnyErrorClass), false, `${String(value)} ${name}`)
      }
      assert.equal(m.isExoRelayError(value), false)
    }
  }
})

test('the brand stays out of JSON, keys and the error replies', async (t) => {
  const [a] = await loadTwoCopies(t)
  const error = new a.ClosedError(a.ErrorCodes.CLOSED, 'closed')
  assert.deepEqual(Object.getOwnPropertySymbols(error), [])
  assert.deepEqual(JSON.parse(JSON.stringify(error)), {
    name: 'ClosedError',
    code: 'EXORELAY_ERR_RELAY_CLOSED',
    message: 'closed',
  })
})

test('a subclass declared outside core keeps ordinary instanceof', async (t) => {
  const [a, b] = await loadTwoCopies(t)
  class AppError extends a.TimeoutError {}
  const app = new AppError('late', 5)
  assert.ok(app instanceof AppError)
  assert.ok(app instanceof a.TimeoutError)
  assert.ok(app instanceof b.TimeoutError)
  assert.ok(app instanceof b.ExoRelayError)
  assert.equal(new a.TimeoutError('late', 5) instanceof AppError, false)
  assert.equal(new b.TimeoutError('late', 5) instanceof AppError, false)
})
