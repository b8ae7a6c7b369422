import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createEnvelope, ErrorCodes } from '@exorelay/core'
import { headers, type Msg, type MsgHdrs } from '@nats-io/transport-node'
import {
  encodeBody,
  fromNatsMessage,
  MessageHeaders,
  outcomeOf,
  replyPublication,
  replyRouteOf,
  requestHeaders,
} from '../src/wire.js'

/** What a subscription hands over, without a server. */
function received(body: string, hdrs?: MsgHdrs, subject = 'exorelay.x'): Msg {
  const data = new TextEncoder().encode(body)
  return {
    subject,
    sid: 1,
    data,
    ...(hdrs && { headers: hdrs }),
    respond: () => false,
    json: <T>() => JSON.parse(body) as T,
    string: () => body,
  }
}

describe('encodeBody, requestHeaders and replyPublication', () => {
  test('the body is the HTTP protocol body; a request has one header: where its replies go', () => {
    const envelope = createEnvelope('users.create', 'web', { name: 'Will' })
    assert.deepEqual(JSON.parse(encodeBody(envelope)), {
      id: envelope.id,
      sender: 'web',
      payload: { name: 'Will' },
    })
    const hdrs = requestHeaders('_INBOX.abc.r')
    assert.deepEqual([...hdrs.keys()], [MessageHeaders.REPLY_TO])
    assert.equal(hdrs.get(MessageHeaders.REPLY_TO), '_INBOX.abc.r')
    const reply = createEnvelope('users.created', 'users', undefined, 'request-1')
    assert.deepEqual(JSON.parse(encodeBody(reply)), {
      id: reply.id,
      sender: 'users',
      responseTo: 'request-1',
    })
  })

  test('a reply to a relay names its outcome in the subject, with no headers', () => {
    const route = { subject: '_INBOX.abc.r', byOutcome: true }
    assert.deepEqual(replyPublication(route, 'users.created'), {
      subject: '_INBOX.abc.r.users.created',
      headers: undefined,
    })
    assert.equal(
      replyPublication(route, 'café crème').subject,
      '_INBOX.abc.r.caf%u00E9%20cr%u00E8me',
    )
  })

  test('a reply to a plain NATS request goes to its reply subject, the outcome in a header', () => {
    const { subject, headers: hdrs } = replyPublication(
      { subject: '_INBOX.plain.7', byOutcome: false },
      'café.created',
    )
    assert.equal(subject, '_INBOX.plain.7')
    assert.equal(hdrs?.get(MessageHeaders.NAME), 'caf%u00E9.created')
  })
})

describe('fromNatsMessage', () => {
  test('gives the relay what the HTTP listener would: payload kinds kept, no payload key when absent', () => {
    for (const payload of ['world', '', 0, [], {}, [1, 2, 3], { name: 'Will' }, false]) {
      const message = fromNatsMessage('hello', received(JSON.stringify({ id: '1', payload })))
      assert.deepEqual(message, { name: 'hello', id: '1', payload })
    }
    const bare = fromNatsMessage('hello', received('{"id":"1","sender":"web","payload":null}'))
    assert.deepEqual(bare, { name: 'hello', id: '1', sender: 'web' })
    assert.equal('payload' in bare, false)
  })

  test('a body that is not JSON, has no id or is not an object is a coded protocol error', () => {
    assert.throws(() => fromNatsMessage('x', received('{')), {
      code: ErrorCodes.INVALID_MESSAGE,
    })
    assert.throws(() => fromNatsMessage('x', received('')), { code: ErrorCodes.MISSING_ID })
    assert.throws(() => fromNatsMessage('x', received('{"payload":1}')), {
      code: ErrorCodes.MISSING_ID,
    })
    assert.throws(() => fromNatsMessage('x', received('[1]')), {
      code: ErrorCodes.INVALID_MESSAGE,
    })
  })
})

describe('outcomeOf and replyRouteOf', () => {
  test('read the escaped outcome of a reply subject and the reply route of a request back', () => {
    assert.equal(outcomeOf('r.caf%u00E9.created', '_INBOX.abc.r.caf%u00E9.created'), 'café.created')
    const hdrs = headers()
    hdrs.set(MessageHeaders.REPLY_TO, '_INBOX.abc.r')
    const relayed = { ...received('{}', hdrs), reply: '_INBOX.abc.a.request-1' }
    assert.deepEqual(replyRouteOf(relayed), { subject: '_INBOX.abc.r', byOutcome: true })
  })

  test('a reply subject without a valid outcome is a protocol error; a missing route is none', () => {
    for (const token of ['r', 'r.', 'x.users.created', 'r.a%zz', 'r.users..%zz']) {
      assert.throws(() => outcomeOf(token, `_INBOX.abc.${token}`), {
        code: ErrorCodes.INVALID_MESSAGE,
      })
    }
    assert.equal(replyRouteOf(received('{}')), undefined)
  })

  test('without the reply header, the NATS reply subject of a plain request is the route', () => {
    const plain = { ...received('{}'), reply: '_INBOX.plain.1' }
    assert.deepEqual(replyRouteOf(plain), { subject: '_INBOX.plain.1', byOutcome: false })
  })
})
