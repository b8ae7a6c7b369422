import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes } from '@exorelay/core'
import { rawHttpClient } from '@exorelay/testing'
import fc from 'fast-check'
import { serviceOf, startBus, startReceiver } from './helpers.js'

// Generated messages thrown at a running bus's `POST /send/*` over real HTTP (the bus does not
// expose its Fastify app, so no inject: fewer runs). Whatever arrives, the answer is one of the
// protocol's statuses, every refusal carries a known code, and Object.prototype stays clean.

const ANSWERS = new Set([200, 400, 404, 413, 415])
const CODES = new Set<string>(Object.values(ErrorCodes))
const BODY_LIMIT = 4_096

/** Any JSON value, and the id-like things a broken or hostile sender might put in a field. */
const field = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.jsonValue({ maxDepth: 3 }),
)

/** Messages the bus should route, given a known name. */
const envelope = fc.record(
  {
    sender: fc.string({ minLength: 1, maxLength: 20 }),
    id: fc.string({ minLength: 1, maxLength: 40 }),
    payload: fc.jsonValue({ maxDepth: 4 }),
  },
  { requiredKeys: ['sender', 'id'] },
)

/** Objects shaped like messages, with fields of any type or missing. */
const envelopeLike = fc.record(
  { id: field, payload: fc.jsonValue({ maxDepth: 4 }), responseTo: field, sender: field },
  { requiredKeys: [] },
)

/** Bodies: messages, message-like objects, any JSON, poisoned JSON, and hardly JSON. */
const body = fc.oneof(
  { arbitrary: envelope.map((value) => JSON.stringify(value)), weight: 3 },
  envelopeLike.map((value) => JSON.stringify(value)),
  fc.jsonValue().map((value) => JSON.stringify(value)),
  fc
    .tuple(fc.constantFrom('__proto__', 'constructor'), fc.jsonValue({ maxDepth: 2 }))
    .map(
      ([key, value]) =>
        `{"sender":"web","id":"m-1","payload":{"${key}":${JSON.stringify(value)}},"${key}":{"prototype":{"polluted":true}}}`,
    ),
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.constant(`{"sender":"web","id":"m-1","payload":"${'x'.repeat(BODY_LIMIT)}"}`),
)

/** Names: routed ones, unrouted ones, any Unicode, and too long. */
const name = fc.oneof(
  { arbitrary: fc.constantFrom('users.create', 'a/b', '', 'nobody.listens'), weight: 3 },
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ minLength: 500, maxLength: 600 }),
)

const printableAscii = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c))

/** Content types: JSON in several spellings, other types, none, and printable noise. */
const contentType = fc.oneof(
  { arbitrary: fc.constant('application/json'), weight: 3 },
  fc.constantFrom(
    'application/json; charset=utf-8',
    'APPLICATION/JSON',
    'application/json; charset=latin1',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    '',
    null,
  ),
  fc.string({ unit: printableAscii, maxLength: 40 }),
)

test('whatever is posted to /send, the answer is 200, 400, 404, 413 or 415 with a known code, and nothing is polluted', {
  timeout: 60_000,
}, async (t) => {
  const users = await startReceiver(t, 'users')
  const { exocom } = await startBus(t, {
    bodyLimit: BODY_LIMIT,
    services: [serviceOf(users, ['users.create', 'a/b'])],
  })
  const client = rawHttpClient(exocom.url)
  t.after(() => client.close())
  const prototypeKeys = Object.getOwnPropertyNames(Object.prototype)
  let routed = 0

  await fc.assert(
    fc.asyncProperty(name, body, contentType, async (messageName, text, type) => {
      const answer = await client.post(`/send/${encodeURIComponent(messageName)}`, text, type)

      assert.ok(ANSWERS.has(answer.status), `status ${answer.status}: ${answer.text}`)
      if (answer.status === 200) routed++
      else assert.ok(answer.code !== undefined && CODES.has(answer.code), `code ${answer.code}`)
      assert.equal(({} as Record<string, unknown>).polluted, undefined)
      assert.deepEqual(Object.getOwnPropertyNames(Object.prototype), prototypeKeys)
    }),
    {
      numRuns: 100,
      // One routed message first, always: random runs alone left none routed about once in six
      // (seen on a CI run), which failed the check below for no fault of the bus.
      examples: [
        [
          'users.create',
          '{"sender":"web","id":"m-0","payload":{"name":"Ada"}}',
          'application/json',
        ],
      ],
    },
  )

  // The property covered both sides: some messages were routed and delivered.
  assert.ok(routed > 0, 'no generated message was routed')
  await users.waitForRuns(routed)
  assert.equal((await fetch(`${exocom.url}/status`)).status, 200)
})
