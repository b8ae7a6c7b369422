import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { test } from 'node:test'
import { startExoCom } from '@exorelay/exocom'
import { withDeadline } from '@exorelay/testing'
import { ErrorCodes, ExoRelay, TransportError } from '../src/index.js'

// Issue 14, case 4: a service killed without withdrawing was a black hole; every request to it
// waited its whole timeout although the bus saw its connection refused at once.

test('a request whose only receiver is gone rejects at once with RECEIVER_UNREACHABLE, not at its deadline', async (t) => {
  const bus = await startExoCom({ port: 0, logger: false })
  t.after(() => bus.close())
  const web = new ExoRelay({ serviceName: 'web', exocomPort: bus.port, port: 0, logger: false })
  t.after(() => web.close())
  await web.listen()
  // `users` registered itself, then died without withdrawing: nothing listens at its port.
  const dead = createServer().listen(0, '127.0.0.1')
  await once(dead, 'listening')
  const { port } = dead.address() as { port: number }
  dead.close()
  await once(dead, 'close')
  const registered = await fetch(`${bus.url}/services/users`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'users', host: '127.0.0.1', port, receives: ['users.create'] }),
  })
  assert.equal(registered.status, 200)

  const error = await withDeadline(
    web.send('users.create', { name: 'Will' }, { timeout: 60_000 }).then(
      () => assert.fail('the send resolved'),
      (rejection: unknown) => rejection,
    ),
    10_000,
    () => 'the send waited for its 60 s deadline: it did not settle',
  )

  assert.ok(error instanceof TransportError)
  assert.equal(error.code, ErrorCodes.RECEIVER_UNREACHABLE)
  assert.match(
    error.message,
    /^The service 'users', the only receiver of 'users\.create', is unreachable/,
  )
  assert.equal(bus.config().services.users, undefined, 'the dead service is still routed')
  // The next send learns at once that nobody receives the name.
  await assert.rejects(web.send('users.create', {}), { code: ErrorCodes.NO_RECEIVER })
})
