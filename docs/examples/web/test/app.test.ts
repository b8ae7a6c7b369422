import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { once } from 'node:events'
import { test } from 'node:test'
import { type ExoCom, startExoCom } from '@exorelay/exocom'
import { deferred, freePort, withDeadline } from '@exorelay/testing'
import { type Contract, defineContract, ErrorCodes, ExoRelay, type MessageMap } from 'exorelay'
import { z } from 'zod'
import { type BuildAppOptions, buildApp } from '../src/app.js'
import type { User, WebMessages } from '../src/contract.js'

type TestContext = { after: (fn: () => Promise<void>) => void }

async function startBus(t: TestContext): Promise<ExoCom> {
  const bus = await startExoCom({ port: 0, logger: false })
  t.after(() => bus.close())
  return bus
}

/** The web app on a free port; resolves with its base URL. */
async function startWeb(t: TestContext, exocomPort: number, options: BuildAppOptions = {}) {
  const app = await buildApp({
    ...options,
    relay: { exocomHost: '127.0.0.1', exocomPort, ...options.relay },
  })
  t.after(() => app.close())
  // Online means registered with the bus, so replies can be routed back to the app.
  const online = once(app.exorelay, 'online')
  await app.listen({ port: 0, host: '127.0.0.1' })
  await online
  const { port } = app.server.address() as { port: number }
  return `http://127.0.0.1:${port}`
}

/** A stand-in for the users service, with the handlers `register` gives it. */
async function startUsers<M extends MessageMap<M> = WebMessages>(
  t: TestContext,
  exocomPort: number,
  register: (relay: ExoRelay<M>) => void,
  /** Its own contract, when a test needs users to check what it receives. */
  contract?: Contract<M>,
): Promise<void> {
  const relay = new ExoRelay<M>({
    serviceName: 'users',
    exocomHost: '127.0.0.1',
    exocomPort,
    port: 0,
    logger: false,
    ...(contract === undefined ? {} : { contract }),
  })
  register(relay)
  t.after(() => relay.close())
  await relay.listen()
}

function postUser(base: string, body: unknown, contentType = 'application/json', query = '') {
  return fetch(`${base}/users${query}`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

/** POST /users with a valid user that the app cannot create; asserts the status, resolves with the error. */
async function failedPost(
  base: string,
  status: number,
): Promise<{ code: string; message: string }> {
  const response = await postUser(base, { name: 'Will Riker', password: 'secret' })
  assert.equal(response.status, status)
  return ((await response.json()) as { error: { code: string; message: string } }).error
}

test('POST /users answers 201 with the created user, and only its id and name', async (t) => {
  const bus = await startBus(t)
  const received: unknown[] = []
  await startUsers(t, bus.port, (users) => {
    users.registerHandler('users.create', async (user, { reply }) => {
      received.push(user)
      // A careless service that leaks the hash: web's contract (`users.created` is `{ id, name }`)
      // drops it before the route sees the reply.
      const leaky = { id: 'u1', name: user.name, passwordHash: 'salt:hash' }
      await reply('users.created', leaky)
    })
  })
  const base = await startWeb(t, bus.port)

  const response = await postUser(base, { name: 'Will Riker', password: 'secret' })
  assert.equal(response.status, 201)
  assert.deepEqual(await response.json(), { id: 'u1', name: 'Will Riker' })
  assert.deepEqual(received, [{ name: 'Will Riker', password: 'secret' }])
})

test('POST /users answers 422 with the reason when the users service replies users.not-created', async (t) => {
  const bus = await startBus(t)
  await startUsers(t, bus.port, (users) => {
    users.registerHandler('users.create', async (_user, { reply }) => {
      await reply('users.not-created', { reason: 'a name is required' })
    })
  })
  const base = await startWeb(t, bus.port)

  const response = await postUser(base, { name: '', password: 'secret' })
  assert.equal(response.status, 422)
  assert.deepEqual(await response.json(), {
    error: { code: 'users.not-created', message: 'a name is required' },
  })
})

test('GET /users answers 200 with the users the users service lists', async (t) => {
  const bus = await startBus(t)
  await startUsers(t, bus.port, (users) => {
    users.registerHandler('users.list', async (_payload, { reply }) => {
      await reply('users.listed', [
        { id: 'u1', name: 'Will Riker' },
        { id: 'u2', name: 'Deanna Troi' },
      ])
    })
  })
  const base = await startWeb(t, bus.port)

  const response = await fetch(`${base}/users`)
  assert.equal(response.status, 200)
  assert.deepEqual(await response.json(), [
    { id: 'u1', name: 'Will Riker' },
    { id: 'u2', name: 'Deanna Troi' },
  ])
})

test('POST /users answers 400 for a body that is not a valid user, and 415 for a form, without sending a message', async (t) => {
  const bus = await startBus(t)
  let sent = 0
  await startUsers(t, bus.port, (users) => {
    users.registerHandler('users.create', async (_user, { reply }) => {
      sent += 1
      await reply('users.not-created', { reason: 'unexpected' })
    })
  })
  const base = await startWeb(t, bus.port)

  const bodies: unknown[] = [
    { name: 'Will Riker' },
    { name: 42, password: 'secret' },
    // The contract's limits, which the body schema is made from.
    { name: 'x'.repeat(201), password: 'secret' },
    { name: 'Will Riker', password: 'x'.repeat(1001) },
    [{ name: 'Will Riker', password: 'secret' }],
    '{"name": "Will Riker", ',
  ]
  for (const body of bodies) {
    const response = await postUser(base, body)
    assert.equal(response.status, 400, `${JSON.stringify(body)} got ${response.status}`)
    const answer = (await response.json()) as { error: { code: string; message: string } }
    assert.match(answer.error.code, /^FST_ERR_/)
    assert.equal(typeof answer.error.message, 'string')
  }
  const form = await postUser(base, 'name=Will', 'application/x-www-form-urlencoded')
  assert.equal(form.status, 415)
  assert.equal(sent, 0)
})

test('POST /users answers 502 with EXORELAY_ERR_REPLY_INVALID when the users service replies what the contract does not allow', async (t) => {
  const bus = await startBus(t)
  await startUsers(t, bus.port, (users) => {
    users.registerHandler('users.create', async (user, { reply }) => {
      // A service whose contract drifted from web's: its ids are numbers.
      await reply('users.created', { id: 1, name: user.name } as unknown as User)
    })
  })
  const base = await startWeb(t, bus.port)

  const error = await failedPost(base, 502)
  assert.equal(error.code, ErrorCodes.REPLY_INVALID)
  assert.match(error.message, /users\.created/)
})

test('POST /users answers 502 with EXORELAY_ERR_PAYLOAD_INVALID when the users service refuses a body the API took', async (t) => {
  const bus = await startBus(t)
  // A users service whose contract drifted from web's: it wants names of at least 20 characters.
  const drifted = defineContract({
    'users.create': {
      payload: z.object({ name: z.string().min(20), password: z.string() }),
      replies: { 'users.created': z.object({ id: z.string(), name: z.string() }) },
    },
  })
  let ran = 0
  await startUsers(
    t,
    bus.port,
    (users) => {
      users.registerHandler('users.create', async (user, { reply }) => {
        ran++
        await reply('users.created', { id: '1', name: user.name })
      })
    },
    drifted,
  )
  const base = await startWeb(t, bus.port)

  const error = await failedPost(base, 502)
  assert.equal(error.code, ErrorCodes.PAYLOAD_INVALID)
  assert.match(
    error.message,
    /'users\.create' does not match the contract of service 'users': name: /,
  )
  assert.equal(ran, 0)
})

test('POST /users answers 503 with EXORELAY_ERR_TRANSPORT_NO_RECEIVER when no service receives users.create', async (t) => {
  const bus = await startBus(t)
  const base = await startWeb(t, bus.port)

  const error = await failedPost(base, 503)
  assert.equal(error.code, ErrorCodes.NO_RECEIVER)
  assert.match(error.message, /users\.create/)
})

test('POST /users answers 504 with EXORELAY_ERR_REPLY_TIMEOUT when users.create gets no reply in time', async (t) => {
  const bus = await startBus(t)
  let received = 0
  const arrived = deferred<void>()
  await startUsers(t, bus.port, (users) => {
    users.registerHandler('users.create', () => {
      received += 1
      arrived.resolve()
    })
  })
  const base = await startWeb(t, bus.port, { timeout: 300 })

  const error = await failedPost(base, 504)
  assert.equal(error.code, ErrorCodes.TIMEOUT)
  // On a loaded machine the 300 ms can pass before users has the message: it comes all the same.
  await withDeadline(arrived.promise, 10_000, () => 'users.create did not reach users')
  assert.equal(received, 1)
})

test('POST /users?timeout= waits less than the app would, never more; a timeout that is not a positive whole number is a 400', async (t) => {
  const bus = await startBus(t)
  await startUsers(t, bus.port, (users) => {
    users.registerHandler('users.create', async (user, { reply }) => {
      await reply('users.created', { id: 'u1', name: user.name })
    })
  })
  // Long enough for a loaded machine: what is checked is the deadline each message carries.
  const base = await startWeb(t, bus.port, { timeout: 20_000 })
  // The deadline each users.create carries, as the relay hands it to the bus.
  const deadlines: (number | undefined)[] = []
  const sent = ({ envelope }: { envelope: { name: string; timeout?: number } }) => {
    if (envelope.name === 'users.create') deadlines.push(envelope.timeout)
  }
  subscribe('exorelay:message:send', sent as (message: unknown) => void)
  t.after(async () => {
    unsubscribe('exorelay:message:send', sent as (message: unknown) => void)
  })

  const user = { name: 'Will Riker', password: 'secret' }
  for (const query of ['?timeout=5000', '?timeout=50000', '']) {
    const response = await postUser(base, user, 'application/json', query)
    assert.equal(response.status, 201, query)
  }
  assert.deepEqual(deadlines, [5_000, 20_000, 20_000])

  for (const query of ['?timeout=soon', '?timeout=0', '?timeout=-5', '?timeout=1.5']) {
    const response = await postUser(base, user, 'application/json', query)
    assert.equal(response.status, 400, query)
    const answer = (await response.json()) as { error: { code: string } }
    assert.equal(answer.error.code, 'FST_ERR_VALIDATION')
  }
  assert.equal(deadlines.length, 3, 'a refused request sends nothing')
})

test('GET /users answers 503 with EXORELAY_ERR_TRANSPORT_BUS_UNREACHABLE when the bus is down', async (t) => {
  const base = await startWeb(t, await freePort())

  const response = await fetch(`${base}/users`)
  assert.equal(response.status, 503)
  const answer = (await response.json()) as { error: { code: string } }
  assert.equal(answer.error.code, ErrorCodes.BUS_UNREACHABLE)
})

test('the relay is mounted in the app: GET /status answers on the API port', async (t) => {
  const bus = await startBus(t)
  const base = await startWeb(t, bus.port)
  const response = await fetch(`${base}/status`)
  assert.equal(response.status, 200)
  assert.deepEqual(Object.keys(bus.config().services), ['web'])
})
