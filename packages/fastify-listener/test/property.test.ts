import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import {
  type Endpoint,
  ErrorCodes,
  type Receipt,
  type ReceivedMessage,
  Relay,
  type Transport,
} from '@exorelay/core'
import { ERROR_CODE_HEADER } from '@exorelay/http-protocol'
import fc from 'fast-check'
import Fastify, { type FastifyInstance } from 'fastify'
import { exoRelayRoutes } from '../src/routes.js'

// Generated envelopes thrown at the listener, in a Fastify app through `app.inject()`, with a
// real core Relay behind it. Whatever arrives, the answer is one of the protocol's statuses,
// every refusal carries a known code, the receiver never throws, and Object.prototype stays
// clean.

const ANSWERS = new Set([200, 400, 404, 413, 415])
const CODES = new Set<string>(Object.values(ErrorCodes))
const BODY_LIMIT = 4_096

let app: FastifyInstance
let relay: Relay
const receiverErrors: unknown[] = []
const received: ReceivedMessage[] = []
const prototypeKeys = Object.getOwnPropertyNames(Object.prototype)

before(async () => {
  // A transport that only hands over the relay's receiver: the HTTP side is the listener's.
  let endpoint: Endpoint | undefined
  const transport: Transport = {
    listen: async (given) => {
      endpoint = given
      return { port: 0 }
    },
    send: async () => {},
    close: async () => {},
  }
  relay = new Relay({ serviceName: 'users', transport })
  relay.registerHandler('users.create', () => {})
  relay.registerHandler('a/b', () => {})
  await relay.listen()
  const receive = endpoint!.receive
  app = Fastify()
  app.register(exoRelayRoutes, {
    bodyLimit: BODY_LIMIT,
    receiver:
      () =>
      (message: ReceivedMessage): Receipt => {
        try {
          const receipt = receive(message)
          if (receipt.status === 'accepted') received.push(message)
          return receipt
        } catch (error) {
          receiverErrors.push(error)
          throw error
        }
      },
  })
  await app.ready()
})

after(async () => {
  await app.close()
  await relay.close()
})

/** Any JSON value, and the id-like things a broken or hostile sender might put in a field. */
const field = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.jsonValue({ maxDepth: 3 }),
)

/** Objects shaped like envelopes, with fields of any type or missing. */
const envelopeLike = fc.record(
  { id: field, payload: fc.jsonValue({ maxDepth: 4 }), responseTo: field, sender: field },
  { requiredKeys: [] },
)

/** Envelopes a relay should accept, given a known name. */
const envelope = fc.record(
  {
    id: fc.string({ minLength: 1, maxLength: 40 }),
    payload: fc.jsonValue({ maxDepth: 4 }),
    sender: fc.string({ maxLength: 20 }),
  },
  { requiredKeys: ['id'] },
)

/** Bodies: envelopes, envelope-like objects, any JSON, poisoned JSON, and hardly JSON. */
const body = fc.oneof(
  { arbitrary: envelope.map((value) => JSON.stringify(value)), weight: 3 },
  envelopeLike.map((value) => JSON.stringify(value)),
  fc.jsonValue().map((value) => JSON.stringify(value)),
  fc
    .tuple(fc.constantFrom('__proto__', 'constructor'), fc.jsonValue({ maxDepth: 2 }))
    .map(
      ([key, value]) =>
        `{"id":"m-1","payload":{"${key}":${JSON.stringify(value)}},"${key}":{"prototype":{"polluted":true}}}`,
    ),
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.constant(`{"id":"m-1","payload":"${'x'.repeat(BODY_LIMIT)}"}`),
)

/** Names: known ones, odd ones, any Unicode, and too long. */
const name = fc.oneof(
  { arbitrary: fc.constantFrom('users.create', 'a/b', '', 'users.created'), weight: 3 },
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ minLength: 500, maxLength: 600 }),
)

const printableAscii = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c))

/** Content types: JSON in several spellings, other types, none, and printable noise. */
const contentType = fc.oneof(
  { arbitrary: fc.constant('application/json'), weight: 3 },
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'APPLICATION/JSON',
    'application/json; charset=latin1',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/vnd.api+json',
    '',
    null,
  ),
  fc.string({ unit: printableAscii, maxLength: 40 }),
)

test('whatever is posted to /run, the answer is 200, 400, 404, 413 or 415 with a known code, and nothing is polluted', async () => {
  await fc.assert(
    fc.asyncProperty(name, body, contentType, async (messageName, text, type) => {
      const headers: Record<string, string> = {}
      if (type !== null) headers['content-type'] = type
      const response = await app.inject({
        method: 'POST',
        url: `/run/${encodeURIComponent(messageName)}`,
        headers,
        body: text,
      })

      assert.ok(ANSWERS.has(response.statusCode), `status ${response.statusCode}: ${response.body}`)
      if (response.statusCode !== 200) {
        const code = response.headers[ERROR_CODE_HEADER]
        assert.ok(typeof code === 'string' && CODES.has(code), `code ${String(code)}`)
      }
      assert.deepEqual(receiverErrors, [])
      assert.equal(({} as Record<string, unknown>).polluted, undefined)
      assert.deepEqual(Object.getOwnPropertyNames(Object.prototype), prototypeKeys)
    }),
    { numRuns: 500 },
  )

  // The property covered both sides: some messages were accepted and reached the relay.
  assert.ok(received.length > 0)
  assert.deepEqual(relay.status(), {
    state: 'online',
    pendingReplies: 0,
    runningHandlers: 0,
    queuedMessages: 0,
    // Its hand-made transport says nothing of a bus.
    bus: 'unknown',
    registered: false,
  })
})
