import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { AbortError, ErrorCodes, TimeoutError } from '../src/errors.js'
import type { ReceivedMessage } from '../src/message-map.js'
import {
  PendingReplies,
  type Timers,
  unrefTimers,
  type WaitOptions,
} from '../src/pending-replies.js'
import { SentMessage } from '../src/sent-message.js'

/** Timers that only fire when the test says so: no test waits for a real deadline. */
class ManualTimers implements Timers {
  readonly scheduled = new Map<number, { callback: () => void; milliseconds: number }>()
  #next = 1

  setTimeout = (callback: () => void, milliseconds: number): number => {
    const handle = this.#next++
    this.scheduled.set(handle, { callback, milliseconds })
    return handle
  }

  clearTimeout = (handle: number): void => {
    this.scheduled.delete(handle)
  }

  /** Runs every pending timer, as if their deadlines had all passed. */
  fireAll(): void {
    const due = [...this.scheduled.values()]
    this.scheduled.clear()
    for (const { callback } of due) callback()
  }
}

function setup(): { pending: PendingReplies; timers: ManualTimers } {
  const timers = new ManualTimers()
  return { pending: new PendingReplies({ timers }), timers }
}

/** Waits with a real SentMessage as the sink; resolves with the whole reply, as `envelope()`. */
function wait(
  pending: PendingReplies,
  id: string,
  options: WaitOptions,
): Promise<ReceivedMessage | undefined> {
  const sent = new SentMessage<unknown, ReceivedMessage | undefined>(id, 'users.create', () => {})
  pending.wait(id, options, sent)
  return sent.envelope()
}

function timeoutError(ms = 1000): TimeoutError {
  return new TimeoutError(`No reply within ${ms} ms.`, ms)
}

function replyTo(
  responseTo: string,
  name = 'users.created',
  payload: unknown = { id: 1 },
): ReceivedMessage {
  return { name, id: `reply-${Math.random()}`, responseTo, payload }
}

test('a wait is registered at once and counted in size', async () => {
  const { pending } = setup()
  assert.equal(pending.size, 0)
  const waits = ['a', 'b'].map((id) =>
    wait(pending, id, { timeout: 1000, timeoutError: () => timeoutError() }),
  )
  assert.equal(pending.size, 2)
  assert.equal(pending.has('a'), true)
  assert.equal(pending.has('zonk'), false)
  pending.rejectAll(() => timeoutError())
  await Promise.all(waits.map((waiting) => assert.rejects(waiting)))
})

test('the first reply settles the wait with that reply and removes the entry', async () => {
  const { pending, timers } = setup()
  const waiting = wait(pending, 'request', { timeout: 1000, timeoutError: () => timeoutError() })
  assert.equal(timers.scheduled.size, 1)
  assert.equal([...timers.scheduled.values()][0]?.milliseconds, 1000)
  const reply = replyTo('request')
  assert.equal(pending.deliver(reply), true)
  assert.equal(pending.size, 0)
  assert.equal(pending.has('request'), false)
  assert.equal(await waiting, reply)
  assert.equal(timers.scheduled.size, 0, 'the deadline timer is cleared')
})

test('a flood of 100 replies to one id settles the wait once and leaves nothing behind', async () => {
  const { pending } = setup()
  const waiting = wait(pending, 'request', { timeout: 1000, timeoutError: () => timeoutError() })
  const replies = Array.from({ length: 100 }, (_, i) => replyTo('request', 'users.created', i))
  const accepted = replies.map((reply) => pending.deliver(reply))
  assert.equal(accepted.filter(Boolean).length, 1)
  assert.equal(accepted[0], true)
  assert.equal(await waiting, replies[0])
  assert.equal(pending.size, 0)
})

test('deliver returns false for unknown ids and for messages that answer nothing', () => {
  const { pending } = setup()
  wait(pending, 'request', { timeout: 1000, timeoutError: () => timeoutError() }).catch(() => {})
  assert.equal(pending.deliver(replyTo('someone-else')), false)
  assert.equal(pending.deliver({ name: 'users.create', id: 'x' }), false)
  assert.equal(pending.size, 1)
  pending.rejectAll(() => timeoutError())
})

test('the deadline rejects with the given TimeoutError instance and removes the entry', async () => {
  const { pending, timers } = setup()
  const error = timeoutError(250)
  const waiting = wait(pending, 'request', { timeout: 250, timeoutError: () => error })
  assert.equal([...timers.scheduled.values()][0]?.milliseconds, 250)
  timers.fireAll()
  await assert.rejects(waiting, (rejected: unknown) => rejected === error)
  assert.equal(pending.size, 0)
  assert.equal(pending.deliver(replyTo('request')), false, 'a late reply finds no waiter')
})

test('an infinite timeout sets no timer', async () => {
  const { pending, timers } = setup()
  const waiting = wait(pending, 'request', {
    timeout: Infinity,
    timeoutError: () => timeoutError(),
  })
  assert.equal(timers.scheduled.size, 0)
  pending.deliver(replyTo('request'))
  assert.equal((await waiting)?.responseTo, 'request')
})

test("an abort rejects with an AbortError whose cause is the signal's reason and removes the entry", async () => {
  const { pending, timers } = setup()
  const controller = new AbortController()
  const waiting = wait(pending, 'request', {
    timeout: 1000,
    timeoutError: () => timeoutError(),
    signal: controller.signal,
  })
  const reason = new Error('the user navigated away')
  controller.abort(reason)
  await assert.rejects(
    waiting,
    (error: unknown) =>
      error instanceof AbortError && error.code === ErrorCodes.ABORTED && error.cause === reason,
  )
  assert.equal(pending.size, 0)
  assert.equal(timers.scheduled.size, 0, 'the deadline timer is cleared')
})

test('an abort without a reason still gives an AbortError coded ABORTED', async () => {
  const { pending } = setup()
  const controller = new AbortController()
  const waiting = wait(pending, 'request', {
    timeout: 1000,
    timeoutError: () => timeoutError(),
    signal: controller.signal,
  })
  controller.abort()
  await assert.rejects(waiting, { name: 'AbortError', code: ErrorCodes.ABORTED })
})

test('a signal aborted before the wait rejects it at once', async () => {
  const { pending } = setup()
  const waiting = wait(pending, 'request', {
    timeout: 1000,
    timeoutError: () => timeoutError(),
    signal: AbortSignal.abort(),
  })
  await assert.rejects(waiting, { code: ErrorCodes.ABORTED })
  assert.equal(pending.size, 0)
})

test('reject rejects one wait and leaves the others', async () => {
  const { pending } = setup()
  const failed = wait(pending, 'a', { timeout: 1000, timeoutError: () => timeoutError() })
  const kept = wait(pending, 'b', { timeout: 1000, timeoutError: () => timeoutError() })
  const error = new Error('bus down')
  pending.reject('a', error)
  pending.reject('zonk', error)
  await assert.rejects(failed, (rejected: unknown) => rejected === error)
  assert.equal(pending.size, 1)
  pending.deliver(replyTo('b'))
  assert.equal((await kept)?.responseTo, 'b')
})

test("rejectAll rejects every wait with the error made for its message's name and empties the table", async () => {
  const { pending, timers } = setup()
  const waits = ['a', 'b', 'c'].map((id) =>
    wait(pending, id, { timeout: 1000, timeoutError: () => timeoutError() }),
  )
  const names: string[] = []
  const error = timeoutError()
  pending.rejectAll((name) => {
    names.push(name)
    return error
  })
  assert.equal(pending.size, 0)
  assert.equal(names.length, 3)
  for (const waiting of waits) {
    await assert.rejects(waiting, (rejected: unknown) => rejected === error)
  }
  assert.equal(timers.scheduled.size, 0)
})

test('in callback mode every reply reaches onReply and end() resolves the wait', async () => {
  const { pending } = setup()
  const received: ReceivedMessage[] = []
  const waiting = wait(pending, 'request', {
    timeout: 1000,
    timeoutError: () => timeoutError(),
    onReply: (reply) => received.push(reply),
  })
  const progress = replyTo('request', 'upload.progress', 50)
  const done = replyTo('request', 'upload.done', 100)
  assert.equal(pending.deliver(progress), true)
  assert.equal(pending.deliver(done), true)
  assert.deepEqual(received, [progress, done])
  assert.equal(pending.size, 1, 'the wait stays open for more outcomes')
  assert.equal(pending.end('request'), true)
  assert.equal(await waiting, undefined)
  assert.equal(pending.size, 0)
  assert.equal(pending.end('request'), false, 'a second end finds nothing')
  assert.equal(pending.deliver(replyTo('request')), false)
  assert.equal(received.length, 2)
})

test('in callback mode the deadline resolves with undefined once at least one reply came', async () => {
  const { pending, timers } = setup()
  let replies = 0
  const waiting = wait(pending, 'request', {
    timeout: 1000,
    timeoutError: () => timeoutError(),
    onReply: () => {
      replies++
    },
  })
  pending.deliver(replyTo('request'))
  timers.fireAll()
  assert.equal(await waiting, undefined)
  assert.equal(replies, 1)
  assert.equal(pending.size, 0)
})

test('in callback mode the deadline rejects with the timeout when no reply came', async () => {
  const { pending, timers } = setup()
  const error = timeoutError()
  const waiting = wait(pending, 'request', {
    timeout: 1000,
    timeoutError: () => error,
    onReply: () => assert.fail('no reply was delivered'),
  })
  timers.fireAll()
  await assert.rejects(waiting, (rejected: unknown) => rejected === error)
  assert.equal(pending.size, 0)
})

test('end returns false for an id nobody waits for', () => {
  const { pending } = setup()
  assert.equal(pending.end('zonk'), false)
})

test('a wait settled by a reply does not remove a later wait for the same id', async () => {
  const { pending } = setup()
  const first = wait(pending, 'request', { timeout: 1000, timeoutError: () => timeoutError() })
  pending.deliver(replyTo('request'))
  const second = wait(pending, 'request', { timeout: 1000, timeoutError: () => timeoutError() })
  await first
  assert.equal(pending.has('request'), true)
  pending.deliver(replyTo('request'))
  await second
  assert.equal(pending.size, 0)
})

test('without injected timers the default timers are used and do not hold the process', async () => {
  const pending = new PendingReplies()
  const waiting = wait(pending, 'request', {
    timeout: 60_000,
    timeoutError: () => timeoutError(60_000),
  })
  pending.deliver(replyTo('request'))
  assert.equal((await waiting)?.responseTo, 'request')
  const handle = unrefTimers.setTimeout(() => {}, 60_000) as NodeJS.Timeout
  assert.equal(handle.hasRef(), false)
  unrefTimers.clearTimeout(handle)
})

test('the default timers take a deadline longer than Node can schedule without overflowing', async (t) => {
  const warnings: string[] = []
  const onWarning = (warning: Error): void => {
    warnings.push(warning.name)
  }
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))
  // Node would report the overflow on the next tick and fire the timer after 1 ms instead.
  const handle = unrefTimers.setTimeout(() => assert.fail('the timer fired early'), 2 ** 31)
  await nextTurn()
  unrefTimers.clearTimeout(handle)
  assert.deepEqual(warnings, [])
})
