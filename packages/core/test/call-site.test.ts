import assert from 'node:assert/strict'
import { test } from 'node:test'
import { types } from 'node:util'
import { atCallSite, captureCallSite } from '../src/call-site.js'
import { ErrorCodes, ExoRelayError, TimeoutError, TransportError } from '../src/errors.js'
import { MemoryBus } from '../src/memory-transport.js'
import { Relay } from '../src/relay.js'
import type { Transport } from '../src/transport.js'

for (const stackTraces of [true, 'await'] as const) {
  test(`an error given the send line is still a native error of its class, with its code, message and fields (stackTraces: ${stackTraces})`, async (t) => {
    const bus = new MemoryBus()
    const users = new Relay({ serviceName: 'users', transport: bus.transport() })
    const web = new Relay({ serviceName: 'web', transport: bus.transport(), stackTraces })
    t.after(() => Promise.all([users.close(), web.close()]))
    users.registerHandler('users.ignore', () => {})
    await Promise.all([users.listen(), web.listen()])

    const sent = web.send('users.ignore', 1, { timeout: 20 }) // the send line
    await assert.rejects(sent, (error: unknown) => {
      // Error trackers (Sentry and the like) take anything else for a plain object.
      assert.ok(types.isNativeError(error))
      assert.equal(Object.prototype.toString.call(error), '[object Error]')
      assert.ok(error instanceof TimeoutError)
      assert.ok(error instanceof ExoRelayError)
      assert.ok(error instanceof Error)
      assert.equal(error.code, ErrorCodes.TIMEOUT)
      assert.equal(error.name, 'TimeoutError')
      assert.equal(error.timeout, 20)
      assert.match(error.message, /'users\.ignore'/)
      const lines = error.stack?.split('\n') ?? []
      assert.equal(lines[0], `TimeoutError: ${error.message}`)
      if (stackTraces === true) {
        assert.match(lines[1] ?? '', /call-site\.test\.ts/)
      } else {
        // The frames of the code awaiting it: node:assert's rejects(), then this test.
        assert.match(
          lines.find((line) => line.includes('.test.ts')) ?? '',
          /at async .*call-site\.test\.ts/,
        )
      }
      // None of the relay's own frames: the timer, the reply table.
      assert.equal(lines.filter((line) => /core\/src\//.test(line)).length, 0)
      return true
    })
  })
}

test("the copy keeps the cause and the subclass fields, and its stack starts at the caller's line", () => {
  const cause = new Error('connect ECONNREFUSED 127.0.0.1:3101')
  const original = new TransportError(ErrorCodes.BUS_REFUSED, 'The bus refused it.', {
    cause,
    status: 503,
  })
  const site = send()
  const copy = atCallSite(original, site)
  assert.notEqual(copy, original)
  assert.ok(types.isNativeError(copy))
  assert.ok(copy instanceof TransportError)
  assert.equal(copy.code, ErrorCodes.BUS_REFUSED)
  assert.equal(copy.status, 503)
  assert.equal(copy.cause, cause)
  assert.equal(copy.message, original.message)
  assert.deepEqual(copy.toJSON(), original.toJSON())
  assert.deepEqual(Object.keys(copy), Object.keys(original))
  assert.match(copy.stack?.split('\n')[1] ?? '', /call-site\.test\.ts/)
})

/** Stands for `relay.send`: captures its caller's stack, as the relay does. */
function send() {
  return captureCallSite(send)
}

test("a transport that rejects at once still gives the awaiting line (stackTraces: 'await')", async (t) => {
  // A closed or aborted transport, a payload it cannot write: the rejection comes before the
  // caller's await has reached the send.
  const refusing: Transport = {
    listen: () => Promise.resolve({ port: 0 }),
    send: (envelope) =>
      Promise.reject(
        new TransportError(ErrorCodes.NO_RECEIVER, `Nobody receives '${envelope.name}'.`),
      ),
    close: () => Promise.resolve(),
  }
  const relay = new Relay({ serviceName: 'web', transport: refusing })
  t.after(() => relay.close())
  await relay.listen()
  let failure: unknown
  try {
    await relay.send('users.create', 1)
  } catch (error) {
    failure = error
  }
  assert.ok(failure instanceof TransportError)
  assert.match((failure as Error).stack?.split('\n')[1] ?? '', /at async .*call-site\.test\.ts/)
})
