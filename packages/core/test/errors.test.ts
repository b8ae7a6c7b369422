import assert from 'node:assert/strict'
import { test } from 'node:test'
import * as errorsModule from '../src/errors.js'
import {
  AbortError,
  ClosedError,
  ErrorCodes,
  ExoRelayError,
  HandlerError,
  InvalidArgumentError,
  isExoRelayError,
  ListenError,
  PayloadInvalidError,
  ProtocolError,
  RemoteHandlerError,
  TimeoutError,
  TransportError,
} from '../src/errors.js'

const CODE_PATTERN = /^EXORELAY_ERR_[A-Z]+(_[A-Z]+)+$/

// Each class built the way core builds it, with the name it must carry.
const examples: Array<[name: string, error: ExoRelayError]> = [
  ['ExoRelayError', new ExoRelayError(ErrorCodes.CLOSED, 'base')],
  ['InvalidArgumentError', new InvalidArgumentError(ErrorCodes.INVALID_NAME, 'bad name')],
  ['TimeoutError', new TimeoutError('too late', 100)],
  ['AbortError', new AbortError(ErrorCodes.ABORTED, 'aborted')],
  ['TransportError', new TransportError(ErrorCodes.BUS_REFUSED, 'refused', { status: 503 })],
  ['ClosedError', new ClosedError(ErrorCodes.CLOSED, 'closed')],
  ['ListenError', new ListenError(ErrorCodes.ADDRESS_IN_USE, 'in use')],
  ['ProtocolError', new ProtocolError(ErrorCodes.MISSING_ID, 'missing message id')],
  ['HandlerError', new HandlerError(ErrorCodes.HANDLER_FAILED, 'handler failed')],
  ['RemoteHandlerError', new RemoteHandlerError('remote failed', 'APP_ERR_NO_STOCK', { sku: 1 })],
  [
    'PayloadInvalidError',
    new PayloadInvalidError(ErrorCodes.PAYLOAD_INVALID, 'invalid', {
      messageName: 'users.create',
      issues: [{ path: 'name', message: 'Expected string' }],
    }),
  ],
]

test('the examples cover every error class errors.ts exports', () => {
  const classes = Object.entries(errorsModule as Record<string, unknown>)
    .filter(
      ([, value]) =>
        typeof value === 'function' &&
        (value === ExoRelayError || value.prototype instanceof ExoRelayError),
    )
    .map(([name]) => name)
    .sort()
  assert.deepEqual(classes, examples.map(([name]) => name).sort())
})

test('every error class carries its fixed name and is an ExoRelayError and an Error', () => {
  for (const [name, error] of examples) {
    assert.equal(error.name, name)
    assert.equal(error.constructor.name, name)
    assert.ok(error instanceof ExoRelayError, name)
    assert.ok(error instanceof Error, name)
    assert.match(String(error), new RegExp(`^${name}: `))
    assert.match(error.stack ?? '', new RegExp(`^${name}: `))
  }
})

test('an error keeps the code and message it was built with', () => {
  const error = new InvalidArgumentError(
    ErrorCodes.INVALID_OPTION,
    "The port 'zonk' is not a number.",
  )
  assert.equal(error.code, ErrorCodes.INVALID_OPTION)
  assert.equal(error.message, "The port 'zonk' is not a number.")
})

test('TimeoutError always has the TIMEOUT code and records its deadline', () => {
  const error = new TimeoutError('No reply.', 2500)
  assert.equal(error.code, ErrorCodes.TIMEOUT)
  assert.equal(error.timeout, 2500)
})

test('RemoteHandlerError has the REMOTE_HANDLER_FAILED code and keeps the remote code and data', () => {
  const error = new RemoteHandlerError('The handler failed.', 'APP_ERR_NO_STOCK', { sku: 1 })
  assert.equal(error.code, ErrorCodes.REMOTE_HANDLER_FAILED)
  assert.equal(error.remoteCode, 'APP_ERR_NO_STOCK')
  assert.deepEqual(error.data, { sku: 1 })
  assert.equal(new RemoteHandlerError('x', ErrorCodes.HANDLER_FAILED).data, undefined)
})

test('TransportError records the status the bus answered with, when there was one', () => {
  assert.equal(new TransportError(ErrorCodes.BUS_REFUSED, 'x', { status: 503 }).status, 503)
  assert.equal(new TransportError(ErrorCodes.BUS_UNREACHABLE, 'x').status, undefined)
})

test('every error class accepts a cause', () => {
  const cause = new Error('connection refused')
  const errors = [
    new ExoRelayError(ErrorCodes.CLOSED, 'x', { cause }),
    new InvalidArgumentError(ErrorCodes.INVALID_NAME, 'x', { cause }),
    new TimeoutError('x', 1, { cause }),
    new AbortError(ErrorCodes.ABORTED, 'x', { cause }),
    new TransportError(ErrorCodes.BUS_UNREACHABLE, 'x', { cause, status: 502 }),
    new ClosedError(ErrorCodes.CLOSED, 'x', { cause }),
    new ListenError(ErrorCodes.LISTEN_FAILED, 'x', { cause }),
    new ProtocolError(ErrorCodes.INVALID_MESSAGE, 'x', { cause }),
    new HandlerError(ErrorCodes.HANDLER_FAILED, 'x', { cause }),
    new RemoteHandlerError('x', 'APP_ERR', undefined, { cause }),
  ]
  for (const error of errors) assert.equal(error.cause, cause, error.name)
  assert.equal(Object.hasOwn(new ClosedError(ErrorCodes.CLOSED, 'x'), 'cause'), false)
})

test('toJSON gives name, code and message, never the stack or the cause', () => {
  const error = new TransportError(ErrorCodes.BUS_UNREACHABLE, 'The bus is down.', {
    cause: new Error('ECONNREFUSED'),
    status: 502,
  })
  assert.deepEqual(error.toJSON(), {
    name: 'TransportError',
    code: ErrorCodes.BUS_UNREACHABLE,
    message: 'The bus is down.',
  })
  const serialized = JSON.stringify(error)
  assert.deepEqual(JSON.parse(serialized), error.toJSON())
  assert.doesNotMatch(serialized, /stack|at |ECONNREFUSED/)
})

test('isExoRelayError recognises ExoRelay errors and nothing else', () => {
  for (const [, error] of examples) assert.equal(isExoRelayError(error), true, error.name)
  assert.equal(isExoRelayError(new Error('plain')), false)
  assert.equal(isExoRelayError({ code: ErrorCodes.TIMEOUT, name: 'TimeoutError' }), false)
  assert.equal(isExoRelayError(ErrorCodes.TIMEOUT), false)
  assert.equal(isExoRelayError(undefined), false)
})

test('isExoRelayError with a code matches only errors with that code', () => {
  const error = new TimeoutError('too late', 100)
  assert.equal(isExoRelayError(error, ErrorCodes.TIMEOUT), true)
  assert.equal(isExoRelayError(error, ErrorCodes.ABORTED), false)
  assert.equal(isExoRelayError(new Error('plain'), ErrorCodes.TIMEOUT), false)
})

test('error codes are unique', () => {
  const codes = Object.values(ErrorCodes)
  assert.equal(new Set(codes).size, codes.length)
})

test('error codes follow EXORELAY_ERR_<AREA>_<DETAIL>', () => {
  for (const [key, code] of Object.entries(ErrorCodes)) assert.match(code, CODE_PATTERN, key)
})
