import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MAX_NAME_LENGTH } from '../src/envelope.js'
import { ErrorCodes } from '../src/errors.js'
import { HandlerRegistry } from '../src/registry.js'

type AnyHandler = (...args: any[]) => unknown

function handler(): AnyHandler {
  return () => {}
}

test('a registered handler can be found by its name', () => {
  const registry = new HandlerRegistry<AnyHandler>()
  const hello = handler()
  registry.register('hello', hello)
  assert.equal(registry.has('hello'), true)
  assert.equal(registry.get('hello'), hello)
  assert.equal(registry.has('zonk'), false)
  assert.equal(registry.get('zonk'), undefined)
})

test('names lists the handled names in registration order', () => {
  const registry = new HandlerRegistry<AnyHandler>()
  registry.register('b', handler())
  registry.register('a', handler())
  registry.register('c', handler())
  assert.deepEqual(registry.names(), ['b', 'a', 'c'])
})

test('an empty or missing name is rejected with INVALID_NAME', () => {
  const registry = new HandlerRegistry<AnyHandler>()
  for (const name of ['', undefined, null]) {
    assert.throws(() => registry.register(name, handler()), {
      name: 'InvalidArgumentError',
      code: ErrorCodes.INVALID_NAME,
      message: /needs a message name/,
    })
  }
})

test('a non-string name is rejected with INVALID_NAME', () => {
  const registry = new HandlerRegistry<AnyHandler>()
  for (const name of [42, {}, ['hello'], true]) {
    assert.throws(() => registry.register(name, handler()), {
      code: ErrorCodes.INVALID_NAME,
      message: /must be strings/,
    })
  }
})

test('a name longer than the limit is rejected with INVALID_NAME', () => {
  const registry = new HandlerRegistry<AnyHandler>()
  assert.throws(() => registry.register('x'.repeat(MAX_NAME_LENGTH + 1), handler()), {
    code: ErrorCodes.INVALID_NAME,
  })
  registry.register('x'.repeat(MAX_NAME_LENGTH), handler())
  assert.equal(registry.names().length, 1)
})

test('a missing handler is rejected with INVALID_HANDLER', () => {
  const registry = new HandlerRegistry<AnyHandler>()
  for (const missing of [undefined, null]) {
    assert.throws(() => registry.register('hello', missing), {
      code: ErrorCodes.INVALID_HANDLER,
      message: "No message handler provided for message 'hello'.",
    })
  }
})

test('a handler that is not a function is rejected with INVALID_HANDLER', () => {
  const registry = new HandlerRegistry<AnyHandler>()
  for (const notAFunction of ['handler', 42, {}, []]) {
    assert.throws(() => registry.register('hello', notAFunction), {
      code: ErrorCodes.INVALID_HANDLER,
      message: /^The handler for message 'hello' must be a function, got /,
    })
  }
})

test('a second handler for one name is rejected with DUPLICATE_HANDLER and the first is kept', () => {
  const registry = new HandlerRegistry<AnyHandler>()
  const first = handler()
  registry.register('hello', first)
  assert.throws(() => registry.register('hello', handler()), {
    code: ErrorCodes.DUPLICATE_HANDLER,
    message: "There is already a handler for message 'hello'.",
  })
  assert.equal(registry.get('hello'), first)
})

test("checks run in the original relay's order: empty name, non-string name, missing handler, non-function handler, duplicate", () => {
  const registry = new HandlerRegistry<AnyHandler>()
  registry.register('taken', handler())
  // Each call breaks every rule from its position on; the first broken rule must win.
  const cases: Array<[name: unknown, handler: unknown, code: string, message: RegExp]> = [
    ['', undefined, ErrorCodes.INVALID_NAME, /needs a message name/],
    [42, undefined, ErrorCodes.INVALID_NAME, /must be strings/],
    ['taken', undefined, ErrorCodes.INVALID_HANDLER, /No message handler provided/],
    ['taken', 'handler', ErrorCodes.INVALID_HANDLER, /must be a function/],
    ['taken', handler(), ErrorCodes.DUPLICATE_HANDLER, /already a handler/],
  ]
  for (const [name, fn, code, message] of cases) {
    assert.throws(() => registry.register(name, fn), { code, message }, `${String(name)}`)
  }
})

test('nothing is registered after a failed check', () => {
  const registry = new HandlerRegistry<AnyHandler>()
  registry.register('kept', handler())
  const attempts: Array<[unknown, unknown]> = [
    ['', handler()],
    [42, handler()],
    ['x'.repeat(MAX_NAME_LENGTH + 1), handler()],
    ['fresh', undefined],
    ['fresh', 'handler'],
    ['kept', handler()],
  ]
  for (const [name, fn] of attempts) {
    assert.throws(() => registry.register(name, fn))
  }
  assert.deepEqual(registry.names(), ['kept'])
  assert.equal(registry.has('fresh'), false)
})
