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
  test('the body is the HTTP protocol body and the headers carry the name, id and reply route', () => {
    const envelope = createEnvelope('users.create', 'web', { name: 'Will' })
    const { body, headers: hdrs } = toNatsMessage(envelope, {
      subject: '_INBOX.abc.r',
      timeout: 2500,
    })
    assert.deepEqual(JSON.parse(body), {
      id: envelope.id,
      sender: 'web',
      payload: { name: 'Will' },
    })
    assert.equal(hdrs.get(MessageHeaders.NAME), 'users.create')
    assert.equal(hdrs.get(MessageHeaders.ID), envelope.id)
    assert.equal(hdrs.get(MessageHeaders.REPLY_TO), '_INBOX.abc.r')
    assert.equal(hdrs.get(MessageHeaders.TIMEOUT), '2500')
    assert.equal(hdrs.has(MessageHeaders.RESPONSE_TO), false)
  })

  test('a reply carries responseTo and no reply route; a request without deadline no timeout', () => {
    const reply = createEnvelope('users.created', 'users', undefined, 'request-1')
    const { body, headers: replyHeaders } = toNatsMessage(reply, undefined)
    assert.deepEqual(JSON.parse(body), { id: reply.id, sender: 'users', responseTo: 'request-1' })
    assert.equal(replyHeaders.get(MessageHeaders.RESPONSE_TO), 'request-1')
    assert.equal(replyHeaders.has(MessageHeaders.REPLY_TO), false)

    const forever = toNatsMessage(createEnvelope('x', 'web', 1), {
      subject: '_INBOX.abc.r',
      timeout: Number.POSITIVE_INFINITY,
    })
    assert.equal(forever.headers.has(MessageHeaders.TIMEOUT), false)
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
    hdrs.set(MessageHeaders.TIMEOUT, '1500')
    const msg = received('{}', hdrs)
    assert.equal(nameFromHeaders(msg), 'café.created')
    assert.deepEqual(replyAddressOf(msg), { subject: '_INBOX.abc.r', timeout: 1500 })
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
    assert.deepEqual(replyAddressOf(plain), {
      subject: '_INBOX.plain.1',
      timeout: Number.POSITIVE_INFINITY,
    })
    const hdrs = headers()
    hdrs.set(MessageHeaders.REPLY_TO, '_INBOX.relay.r')
    const relayed = { ...received('{}', hdrs), reply: '_INBOX.relay.p.1' }
    assert.equal(replyAddressOf(relayed)?.subject, '_INBOX.relay.r')
  })

  test('a route without a usable timeout is remembered as waiting for ever', () => {
    for (const timeout of [undefined, 'soon', '-5', '0']) {
      const hdrs = headers()
      hdrs.set(MessageHeaders.REPLY_TO, '_INBOX.abc.r')
      if (timeout !== undefined) hdrs.set(MessageHeaders.TIMEOUT, timeout)
      assert.equal(replyAddressOf(received('{}', hdrs))?.timeout, Number.POSITIVE_INFINITY)
    }
  })
})
