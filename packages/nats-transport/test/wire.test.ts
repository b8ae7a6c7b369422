import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createEnvelope, ErrorCodes } from '@exorelay/core'
import { headers, type Msg, type MsgHdrs } from '@nats-io/transport-node'
import {
  fromNatsMessage,
  MessageHeaders,
  nameFromHeaders,
  replyAddressOf,
  toNatsMessage,
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

describe('toNatsMessage', () => {
  test('the body is the HTTP protocol body and the headers carry the name and reply route', () => {
    const envelope = createEnvelope('users.create', 'web', { name: 'Will' })
    const { body, headers: hdrs } = toNatsMessage(envelope, '_INBOX.abc.r')
    assert.deepEqual(JSON.parse(body), {
      id: envelope.id,
      sender: 'web',
      payload: { name: 'Will' },
    })
    assert.equal(hdrs.get(MessageHeaders.NAME), 'users.create')
    assert.equal(hdrs.get(MessageHeaders.REPLY_TO), '_INBOX.abc.r')
    assert.deepEqual([...hdrs.keys()].sort(), [MessageHeaders.NAME, MessageHeaders.REPLY_TO])
  })

  test('a reply carries responseTo in its body and only its name in headers', () => {
    const reply = createEnvelope('users.created', 'users', undefined, 'request-1')
    const { body, headers: replyHeaders } = toNatsMessage(reply, undefined)
    assert.deepEqual(JSON.parse(body), { id: reply.id, sender: 'users', responseTo: 'request-1' })
    assert.deepEqual([...replyHeaders.keys()], [MessageHeaders.NAME])
    assert.equal(replyHeaders.get(MessageHeaders.NAME), 'users.created')
  })

  test('names outside ASCII travel escaped in the header', () => {
    const { headers: hdrs } = toNatsMessage(createEnvelope('café crème', 'web', 1), undefined)
    assert.equal(hdrs.get(MessageHeaders.NAME), 'caf%u00E9%20cr%u00E8me')
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

describe('nameFromHeaders and replyAddressOf', () => {
  test('read the escaped name and the reply route back', () => {
    const hdrs = headers()
    hdrs.set(MessageHeaders.NAME, 'caf%u00E9.created')
    hdrs.set(MessageHeaders.REPLY_TO, '_INBOX.abc.r')
    const msg = received('{}', hdrs)
    assert.equal(nameFromHeaders(msg), 'café.created')
    assert.equal(replyAddressOf(msg), '_INBOX.abc.r')
  })

  test('a missing or malformed name header is a protocol error; a missing route is none', () => {
    assert.throws(() => nameFromHeaders(received('{}')), { code: ErrorCodes.INVALID_MESSAGE })
    const bad = headers()
    bad.set(MessageHeaders.NAME, 'a%zz')
    assert.throws(() => nameFromHeaders(received('{}', bad)), { code: ErrorCodes.INVALID_MESSAGE })
    assert.equal(replyAddressOf(received('{}')), undefined)
  })

  test('without the reply header, the NATS reply subject of a plain request is the route', () => {
    const plain = { ...received('{}'), reply: '_INBOX.plain.1' }
    assert.equal(replyAddressOf(plain), '_INBOX.plain.1')
    const hdrs = headers()
    hdrs.set(MessageHeaders.REPLY_TO, '_INBOX.relay.r')
    const relayed = { ...received('{}', hdrs), reply: '_INBOX.relay.p.1' }
    assert.equal(replyAddressOf(relayed), '_INBOX.relay.r')
  })
})
