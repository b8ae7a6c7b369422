import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ERROR_REPLY, remoteHandlerError, toWireError } from '../src/error-reply.js'
import { ErrorCodes, RemoteHandlerError, TransportError } from '../src/errors.js'

test('the error reply name has no dot, so namespace translation leaves it alone', () => {
  assert.equal(ERROR_REPLY.includes('.'), false)
})

test('a coded error keeps its code, message and JSON data on the wire, and never its stack', () => {
  const error = Object.assign(new Error('Will exists already.'), {
    code: 'USERS_DUPLICATE',
    data: { name: 'Will' },
  })
  const wire = toWireError(error, 'users')
  assert.deepEqual(wire, {
    code: 'USERS_DUPLICATE',
    message: 'Will exists already.',
    data: { name: 'Will' },
    service: 'users',
  })
  assert.equal(JSON.stringify(wire).includes('at '), false)
})

test('an error without a code travels as HANDLER_FAILED; data that is not JSON is left out', () => {
  const circular: Record<string, unknown> = {}
  circular.self = circular
  const wire = toWireError(Object.assign(new TypeError('bad'), { data: circular }))
  assert.deepEqual(wire, { code: ErrorCodes.HANDLER_FAILED, message: 'bad' })
})

test('a thrown non-error still becomes a readable wire error', () => {
  assert.deepEqual(toWireError('nope'), {
    code: ErrorCodes.HANDLER_FAILED,
    message: "The handler failed with 'nope'.",
  })
  assert.equal(toWireError(undefined).code, ErrorCodes.HANDLER_FAILED)
})

test('the caller turns an error reply into a RemoteHandlerError with the remote code and data', () => {
  const error = remoteHandlerError(
    {
      name: ERROR_REPLY,
      id: 'r',
      responseTo: 'q',
      sender: 'users',
      payload: { code: 'USERS_DUPLICATE', message: 'Will exists already.', data: 1 },
    },
    'users.create',
  )
  assert.ok(error instanceof RemoteHandlerError)
  assert.equal(error.code, ErrorCodes.REMOTE_HANDLER_FAILED)
  assert.equal(error.remoteCode, 'USERS_DUPLICATE')
  assert.equal(error.data, 1)
  assert.equal(
    error.message,
    "The handler of 'users.create' in service 'users' failed: Will exists already.",
  )
})

test('without a sender (ExoCom does not forward it) the error names the service the error reply names', () => {
  const error = remoteHandlerError(
    {
      name: ERROR_REPLY,
      id: 'r',
      responseTo: 'q',
      payload: toWireError(new Error('handler exploded'), 'users'),
    },
    'users.create',
  )
  assert.equal(
    error.message,
    "The handler of 'users.create' in service 'users' failed: handler exploded",
  )
})

test('a malformed error reply still becomes a coded error', () => {
  const error = remoteHandlerError(
    { name: ERROR_REPLY, id: 'r', responseTo: 'q', payload: 'junk' },
    'users.create',
  )
  assert.ok(error instanceof RemoteHandlerError)
  assert.equal(error.remoteCode, ErrorCodes.HANDLER_FAILED)
  assert.equal(
    error.message,
    "The handler of 'users.create' failed; its error reply carries no message.",
  )
})

test("an error reply's message is quoted as one plain sentence: no stack, no HTML, no path, no flood", () => {
  const quoted = (message: unknown) =>
    remoteHandlerError({ name: ERROR_REPLY, id: 'r', responseTo: 'q', payload: { message } }, 'x')
      .message

  // As a handler further down a chain of requests might have let it through.
  assert.equal(
    quoted("ENOENT: no such file, open '/srv/app/users.json'\n    at open (node:fs:1:2)"),
    "The handler of 'x' failed: ENOENT: no such file, open ''",
  )
  assert.equal(
    quoted('<html><body><pre>TypeError: boom<br>  at f (/home/u/x.js:1:2)</pre></body></html>'),
    "The handler of 'x' failed: TypeError: boom",
  )
  assert.ok(quoted('x'.repeat(1_000_000)).length < 300)
  assert.equal(quoted('   '), "The handler of 'x' failed; its error reply carries no message.")
})

test('an error reply the bus sent for an unreachable receiver is a TransportError with that code', () => {
  const error = remoteHandlerError(
    {
      name: ERROR_REPLY,
      id: 'r',
      responseTo: 'q',
      payload: {
        code: ErrorCodes.RECEIVER_UNREACHABLE,
        message: "The service 'users' is unreachable at http://127.0.0.1:4001 (ECONNREFUSED).",
      },
    },
    'users.create',
  )
  assert.ok(error instanceof TransportError)
  assert.equal(error.code, ErrorCodes.RECEIVER_UNREACHABLE)
  assert.match(error.message, /^The service 'users' is unreachable/)
})

test('a handler that lets RECEIVER_UNREACHABLE from its own send escape failed: its caller learns a handler ran', () => {
  const escaped = Object.assign(new Error("The service 'audit' … is unreachable"), {
    code: ErrorCodes.RECEIVER_UNREACHABLE,
  })
  const wire = toWireError(escaped)
  assert.equal(wire.code, ErrorCodes.HANDLER_FAILED)
  const error = remoteHandlerError(
    { name: ERROR_REPLY, id: 'r', responseTo: 'q', payload: wire },
    'users.create',
  )
  assert.ok(error instanceof RemoteHandlerError)
})

test('an error reply the bus sent for a receiver that refused its token is a TransportError with status 401', () => {
  const error = remoteHandlerError(
    {
      name: ERROR_REPLY,
      id: 'r',
      responseTo: 'q',
      payload: {
        code: ErrorCodes.UNAUTHORIZED,
        message: "The service 'users' … refused it (401).",
      },
    },
    'users.create',
  )
  assert.ok(error instanceof TransportError)
  assert.equal(error.code, ErrorCodes.UNAUTHORIZED)
  assert.equal(error.status, 401)
  // A handler that lets such an error escape failed: its caller learns a handler ran.
  const escaped = Object.assign(new Error('refused'), { code: ErrorCodes.UNAUTHORIZED })
  assert.equal(toWireError(escaped).code, ErrorCodes.HANDLER_FAILED)
})
