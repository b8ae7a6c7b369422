import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { ErrorCodes, TimeoutError } from '../src/errors.js'
import type { ReceivedMessage } from '../src/message-map.js'
import { SentMessage, settleFailure, settleReply } from '../src/sent-message.js'

interface Deferred<T> {
  promise: Promise<T>
  resolve(value: T): void
  reject(reason: unknown): void
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (reason: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** Records unhandled rejections while the test runs. */
function unhandledRejections(t: TestContext): unknown[] {
  const seen: unknown[] = []
  const listener = (reason: unknown): void => {
    seen.push(reason)
  }
  process.on('unhandledRejection', listener)
  t.after(() => process.off('unhandledRejection', listener))
  return seen
}

const REPLY: ReceivedMessage = {
  name: 'users.created',
  id: 'reply-id',
  responseTo: 'request-id',
  sender: 'users',
  payload: { id: 456, name: 'Will' },
}

/** A SentMessage settled by `reply` the way the relay settles one: once, directly. */
function sentMessage(
  reply: Promise<ReceivedMessage>,
  onUnobserved: (error: unknown) => void = () => {},
): SentMessage<unknown, ReceivedMessage> {
  const sent = new SentMessage<unknown, ReceivedMessage>('request-id', 'users.create', (error) =>
    onUnobserved(error),
  )
  reply.then(
    (message) => sent[settleReply](message),
    (error: unknown) => sent[settleFailure](error),
  )
  return sent
}

test('a SentMessage is a Promise', () => {
  const sent = sentMessage(Promise.resolve(REPLY))
  assert.ok(sent instanceof Promise)
  assert.ok(sent instanceof SentMessage)
  assert.equal(Object.prototype.toString.call(sent), '[object SentMessage]')
})

test('it carries the id and the name of the sent message', () => {
  const sent = sentMessage(Promise.resolve(REPLY))
  assert.equal(sent.id, 'request-id')
  assert.equal(sent.messageName, 'users.create')
})

test('it resolves with the result drawn from the reply', async () => {
  assert.deepEqual(await sentMessage(Promise.resolve(REPLY)), { id: 456, name: 'Will' })
})

test('promises derived with then, catch and finally are plain Promises', () => {
  const sent = sentMessage(Promise.resolve(REPLY))
  for (const derived of [sent.then(), sent.catch(() => {}), sent.finally(() => {})]) {
    assert.ok(derived instanceof Promise)
    assert.equal(derived instanceof SentMessage, false)
    assert.equal(derived.constructor, Promise)
  }
})

test('envelope() resolves with the whole reply', async () => {
  const sent = sentMessage(Promise.resolve(REPLY))
  assert.equal(await sent.envelope(), REPLY)
})

test('an ignored rejection is no unhandledRejection and is reported to onUnobserved once', async (t) => {
  const unhandled = unhandledRejections(t)
  const reply = deferred<ReceivedMessage>()
  const reported = deferred<unknown>()
  const calls: unknown[] = []
  sentMessage(reply.promise, (error) => {
    calls.push(error)
    reported.resolve(error)
  })
  const error = new TimeoutError('No reply.', 10)
  reply.reject(error)
  assert.equal(await reported.promise, error)
  await nextTurn()
  await nextTurn()
  assert.deepEqual(unhandled, [])
  assert.deepEqual(calls, [error])
})

test('an ignored send that has already failed is no unhandledRejection either', async (t) => {
  const unhandled = unhandledRejections(t)
  const reported = deferred<unknown>()
  const error = new Error('closed')
  sentMessage(Promise.reject(error), reported.resolve)
  assert.equal(await reported.promise, error)
  await nextTurn()
  assert.deepEqual(unhandled, [])
})

test('an awaited rejection rejects the caller and is not reported to onUnobserved', async (t) => {
  const unhandled = unhandledRejections(t)
  const reply = deferred<ReceivedMessage>()
  let reported = 0
  const sent = sentMessage(reply.promise, () => {
    reported++
  })
  const error = new TimeoutError('No reply.', 10)
  reply.reject(error)
  await assert.rejects(sent, { code: ErrorCodes.TIMEOUT })
  await nextTurn()
  assert.equal(reported, 0)
  assert.deepEqual(unhandled, [])
})

test('an awaited send that had already failed when it was made is not reported to onUnobserved', async () => {
  let reported = 0
  const sent = sentMessage(Promise.reject(new Error('closed')), () => {
    reported++
  })
  await assert.rejects(sent, { message: 'closed' })
  await nextTurn()
  assert.equal(reported, 0)
})

test('a failure observed through catch, or through envelope(), is not reported to onUnobserved', async () => {
  let reported = 0
  const onUnobserved = (): void => {
    reported++
  }
  const caught = sentMessage(Promise.reject(new Error('a')), onUnobserved).catch((error) => error)
  const viaEnvelope = sentMessage(Promise.reject(new Error('b')), onUnobserved).envelope()
  assert.equal(((await caught) as Error).message, 'a')
  await assert.rejects(viaEnvelope, { message: 'b' })
  await nextTurn()
  assert.equal(reported, 0)
})

test('awaiting a send after its failure was reported still rejects with the error', async () => {
  const reply = deferred<ReceivedMessage>()
  const reported = deferred<unknown>()
  const sent = sentMessage(reply.promise, reported.resolve)
  const error = new Error('bus down')
  reply.reject(error)
  await reported.promise
  await assert.rejects(sent, (rejected: unknown) => rejected === error)
})

test('a reply that comes before the send is awaited is kept', async () => {
  const reply = deferred<ReceivedMessage>()
  const sent = sentMessage(reply.promise)
  reply.resolve(REPLY)
  await nextTurn()
  assert.deepEqual(await sent, REPLY.payload)
  assert.equal(await sent.envelope(), REPLY)
})

test('it settles once: a second reply or failure changes nothing', async () => {
  const sent = new SentMessage<unknown, ReceivedMessage>('request-id', 'users.create', () => {})
  const early = sent.envelope()
  sent[settleReply](REPLY)
  sent[settleFailure](new Error('too late'))
  sent[settleReply]({ ...REPLY, payload: 'other' })
  assert.deepEqual(await sent, REPLY.payload)
  assert.equal(await early, REPLY)
  assert.equal(await sent.envelope(), REPLY)
})

test('a send that ends without a reply resolves with undefined, its envelope too', async () => {
  const sent = new SentMessage<undefined, undefined>('request-id', 'hello', () => {})
  sent[settleReply](undefined)
  assert.equal(await sent, undefined)
  assert.equal(await sent.envelope(), undefined)
})

test('envelope() asked before a failure rejects with it, and the failure is not reported', async () => {
  let reported = 0
  const sent = new SentMessage('request-id', 'users.create', () => {
    reported++
  })
  const envelope = sent.envelope()
  const error = new Error('bus down')
  sent[settleFailure](error)
  await assert.rejects(envelope, (rejected: unknown) => rejected === error)
  await nextTurn()
  assert.equal(reported, 0)
})

test('onUnobserved gets the SentMessage with the error', async () => {
  const reported = deferred<{ error: unknown; sent: SentMessage }>()
  const sent = new SentMessage('request-id', 'users.create', (error, which) =>
    reported.resolve({ error, sent: which }),
  )
  const error = new Error('bus down')
  sent[settleFailure](error)
  const seen = await reported.promise
  assert.equal(seen.error, error)
  assert.equal(seen.sent, sent)
})
