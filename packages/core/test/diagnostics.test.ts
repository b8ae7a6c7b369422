import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { test } from 'node:test'
import { MemoryBus } from '../src/memory-transport.js'
import { Relay } from '../src/relay.js'

test('sends, receipts and handler failures are published on diagnostics channels', async (t) => {
  const events: [string, any][] = []
  const listeners = [
    'exorelay:message:send',
    'exorelay:message:receive',
    'exorelay:handler:error',
  ].map((name) => {
    const listener = (event: unknown) => events.push([name, event])
    subscribe(name, listener)
    return [name, listener] as const
  })
  t.after(() => {
    for (const [name, listener] of listeners) unsubscribe(name, listener)
  })
  const bus = new MemoryBus()
  const users = new Relay({ serviceName: 'users', transport: bus.transport() })
  const web = new Relay({ serviceName: 'web', transport: bus.transport() })
  t.after(async () => {
    await users.close()
    await web.close()
  })
  users.registerHandler('users.create', () => {
    throw new Error('boom')
  })
  await users.listen()
  await web.listen()

  await assert.rejects(web.send('users.create', { name: 'Will' }))

  const names = events.map(([name, event]) => `${name} ${event.serviceName}`)
  assert.deepEqual(names, [
    'exorelay:message:send web',
    'exorelay:handler:error users',
    'exorelay:message:send users',
    'exorelay:message:receive users',
    'exorelay:message:receive web',
  ])
  assert.equal(events[0]![1].envelope.name, 'users.create')
  assert.equal(events[3]![1].receipt.status, 'failed')
  assert.equal(events[4]![1].message.name, '__error')
})
