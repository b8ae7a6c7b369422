import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { inspect } from 'node:util'
import { ErrorCodes, isExoRelayError } from '@exorelay/core'
import { startExoCom } from '../src/exocom.js'
import {
  request,
  send,
  serviceOf,
  shownWithOneInstance,
  startBus,
  startReceiver,
} from './helpers.js'

describe('routing', () => {
  test('a message reaches its receiver as POST /run/<name> with id, payload and responseTo but no sender', async (t) => {
    const users = await startReceiver(t, 'users')
    const { exocom } = await startBus(t, { services: [serviceOf(users, ['users.create'])] })

    const answer = await send(exocom, 'users.create', {
      sender: 'web',
      id: 'm-1',
      payload: { name: 'Will Riker' },
      responseTo: 'earlier-1',
    })

    assert.equal(answer.status, 200)
    assert.equal(answer.text, '')
    const [run] = await users.waitForRuns(1)
    assert.equal(run?.url, '/run/users.create')
    assert.equal(run?.headers['content-type'], 'application/json')
    assert.equal(run?.headers.accept, 'application/json')
    assert.deepEqual(run?.body, {
      id: 'm-1',
      payload: { name: 'Will Riker' },
      responseTo: 'earlier-1',
    })
  })

  test('every kind of payload is delivered as it was sent, and no payload means no payload key', async (t) => {
    const users = await startReceiver(t, 'users')
    const { exocom } = await startBus(t, { services: [serviceOf(users, ['users.create'])] })
    const payloads: unknown[] = [{ name: 'world' }, {}, 'world', '', [1, 2, 3], [], 0, false]

    for (const [index, payload] of payloads.entries()) {
      const answer = await send(exocom, 'users.create', {
        sender: 'web',
        id: `p-${index}`,
        payload,
      })
      assert.equal(answer.status, 200)
    }
    await send(exocom, 'users.create', { sender: 'web', id: 'no-payload' })
    await send(exocom, 'users.create', { sender: 'web', id: 'null-payload', payload: null })

    const runs = await users.waitForRuns(payloads.length + 2)
    const byId = new Map(runs.map((run) => [(run.body as { id: string }).id, run.body]))
    for (const [index, payload] of payloads.entries()) {
      assert.deepEqual(byId.get(`p-${index}`), { id: `p-${index}`, payload })
    }
    assert.deepEqual(byId.get('no-payload'), { id: 'no-payload' })
    assert.deepEqual(byId.get('null-payload'), { id: 'null-payload' })
  })

  test('a message goes to every service that receives its name', async (t) => {
    const users = await startReceiver(t, 'users')
    const audit = await startReceiver(t, 'audit')
    const web = await startReceiver(t, 'web')
    const { exocom } = await startBus(t, {
      services: [
        serviceOf(users, ['users.create']),
        serviceOf(audit, ['users.create', 'users.created']),
        serviceOf(web, ['users.created']),
      ],
    })

    await send(exocom, 'users.create', { sender: 'web', id: 'fan-1', payload: 'x' })
    await exocom.close() // waits for every delivery in flight

    assert.deepEqual(
      users.runs.map((run) => run.body),
      [{ id: 'fan-1', payload: 'x' }],
    )
    assert.deepEqual(
      audit.runs.map((run) => run.body),
      [{ id: 'fan-1', payload: 'x' }],
    )
    assert.equal(web.runs.length, 0)
  })

  test('message names are URL-decoded from /send and URL-encoded into /run, long ones included', async (t) => {
    const odd = await startReceiver(t, 'odd')
    const long = `users.${'x'.repeat(500)}`
    const { exocom } = await startBus(t, { services: [serviceOf(odd, ['a/b c', long])] })

    assert.equal((await send(exocom, 'a/b c', { sender: 'web', id: 'enc-1' })).status, 200)
    assert.equal((await send(exocom, long, { sender: 'web', id: 'enc-2' })).status, 200)

    const runs = await odd.waitForRuns(2)
    const names = runs.map((run) => run.name).sort()
    assert.deepEqual(names, ['a/b c', long].sort())
    assert.ok(runs.some((run) => run.url === '/run/a%2Fb%20c'))
  })

  test('each delivery is logged at info in the original console style with its routing fields', async (t) => {
    const users = await startReceiver(t, 'users')
    const { exocom, log } = await startBus(t, { services: [serviceOf(users, ['users.create'])] })

    await send(exocom, 'users.create', { sender: 'web', id: 'log-1', responseTo: 'r-0' })

    const entry = await log.waitFor((e) => e.level === 'info' && e.fields.messageId === 'log-1')
    assert.equal(entry.message, 'web  --[ users.create ]->  users')
    assert.deepEqual(entry.fields, {
      sender: 'web',
      receiver: 'users',
      messageName: 'users.create',
      messageId: 'log-1',
      responseTo: 'r-0',
    })
  })
})

describe('namespace translation', () => {
  test('a public name reaches a service with an internal namespace in that namespace', async (t) => {
    const tweets = await startReceiver(t, 'tweets')
    const { exocom, log } = await startBus(t, {
      services: [serviceOf(tweets, ['tweets.create'], { internalNamespace: 'text-snippets' })],
    })

    await send(exocom, 'tweets.create', { sender: 'web', id: 'tr-1', payload: 'hi' })

    const [run] = await tweets.waitForRuns(1)
    assert.equal(run?.url, '/run/text-snippets.create')
    assert.deepEqual(run?.body, { id: 'tr-1', payload: 'hi' })
    const entry = await log.waitFor((e) => e.level === 'info' && e.fields.messageId === 'tr-1')
    assert.equal(entry.message, 'web  --[ tweets.create ]-[ text-snippets.create ]->  tweets')
  })

  test('what a service sends in its internal namespace leaves the bus under its public name', async (t) => {
    const tweets = await startReceiver(t, 'tweets')
    const web = await startReceiver(t, 'web')
    const { exocom, log } = await startBus(t, {
      services: [
        serviceOf(tweets, ['tweets.create'], { internalNamespace: 'text-snippets' }),
        serviceOf(web, ['tweets.created']),
      ],
    })

    const answer = await send(exocom, 'text-snippets.created', { sender: 'tweets', id: 'tr-2' })

    assert.equal(answer.status, 200)
    const [run] = await web.waitForRuns(1)
    assert.equal(run?.url, '/run/tweets.created')
    const entry = await log.waitFor((e) => e.level === 'info' && e.fields.messageId === 'tr-2')
    assert.equal(entry.message, 'tweets  --[ text-snippets.created ]-[ tweets.created ]->  web')
  })
})

describe('reply routing', () => {
  test('a reply reaches the requester that did not declare its name, and its declared receivers', async (t) => {
    const users = await startReceiver(t, 'users')
    const web = await startReceiver(t, 'web')
    const audit = await startReceiver(t, 'audit')
    const { exocom } = await startBus(t, {
      services: [
        serviceOf(users, ['users.create']),
        serviceOf(web, []),
        serviceOf(audit, ['users.created']),
      ],
    })

    await send(exocom, 'users.create', { sender: 'web', id: 'req-1', payload: { name: 'Will' } })
    await users.waitForRuns(1)
    const answer = await send(exocom, 'users.created', {
      sender: 'users',
      id: 'rep-1',
      payload: { id: 456 },
      responseTo: 'req-1',
    })

    assert.equal(answer.status, 200)
    const [run] = await web.waitForRuns(1)
    assert.equal(run?.url, '/run/users.created')
    assert.deepEqual(run?.body, { id: 'rep-1', payload: { id: 456 }, responseTo: 'req-1' })
    assert.equal((await audit.waitForRuns(1)).length, 1)
  })

  test('a requester that also receives the reply name gets the reply once', async (t) => {
    const users = await startReceiver(t, 'users')
    const web = await startReceiver(t, 'web')
    const { exocom } = await startBus(t, {
      services: [serviceOf(users, ['users.create']), serviceOf(web, ['users.created'])],
    })

    await send(exocom, 'users.create', { sender: 'web', id: 'req-2' })
    await send(exocom, 'users.created', { sender: 'users', id: 'rep-2', responseTo: 'req-2' })
    await exocom.close() // waits for every delivery in flight

    assert.deepEqual(
      web.runs.map((run) => run.body),
      [{ id: 'rep-2', responseTo: 'req-2' }],
    )
  })

  test('a reply to a translated request reaches the requester under the public name', async (t) => {
    const tweets = await startReceiver(t, 'tweets')
    const web = await startReceiver(t, 'web')
    const { exocom } = await startBus(t, {
      services: [
        serviceOf(tweets, ['tweets.create'], { internalNamespace: 'text-snippets' }),
        serviceOf(web, []),
      ],
    })

    await send(exocom, 'tweets.create', { sender: 'web', id: 'req-3' })
    await send(exocom, 'text-snippets.created', {
      sender: 'tweets',
      id: 'rep-3',
      responseTo: 'req-3',
    })

    const [run] = await web.waitForRuns(1)
    assert.equal(run?.url, '/run/tweets.created')
  })

  test('a reply to an id the bus never routed, with no receivers, is a 404', async (t) => {
    const { exocom } = await startBus(t)

    const answer = await send(exocom, 'users.created', {
      sender: 'users',
      id: 'x',
      responseTo: 'never',
    })

    assert.equal(answer.status, 404)
    assert.equal(answer.code, ErrorCodes.NO_RECEIVER)
  })
})

describe('POST /services', () => {
  test('sending the same table twice replaces it, so each receiver gets a message once', async (t) => {
    const users = await startReceiver(t, 'users')
    const { exocom } = await startBus(t)
    const table = [serviceOf(users, ['users.create'])]

    assert.equal((await request(exocom, 'POST', '/services', table)).status, 200)
    assert.equal((await request(exocom, 'POST', '/services', table)).status, 200)
    await send(exocom, 'users.create', { sender: 'web', id: 'twice-1' })
    await exocom.close() // waits for every delivery in flight

    assert.equal(users.runs.length, 1)
    assert.equal(exocom.config().routes['users.create']?.receivers.length, 1)
  })

  test('a table with a bad entry is refused with 400 naming the entry and field, and the old table stays', async (t) => {
    const users = await startReceiver(t, 'users')
    const { exocom } = await startBus(t, { services: [serviceOf(users, ['users.create'])] })
    const before = exocom.config()

    const answer = await request(exocom, 'POST', '/services', [
      serviceOf(users, ['users.create']),
      { name: 'tweets', host: '127.0.0.1', port: 70000, receives: [] },
    ])

    assert.equal(answer.status, 400)
    assert.equal(answer.code, ErrorCodes.BUS_INVALID_REGISTRATION)
    assert.match(answer.text, /Service entry 1 \('tweets'\).*'port'.*70000/)
    assert.deepEqual(exocom.config(), before)
    assert.equal((await send(exocom, 'users.create', { sender: 'web', id: 'kept-1' })).status, 200)
  })

  test('a body that is not an array is refused with 400', async (t) => {
    const { exocom } = await startBus(t)

    const answer = await request(exocom, 'POST', '/services', { name: 'users' })

    assert.equal(answer.status, 400)
    assert.equal(answer.code, ErrorCodes.BUS_INVALID_REGISTRATION)
  })

  test('setServices replaces the table programmatically and refuses a bad one with INVALID_OPTION', async (t) => {
    const users = await startReceiver(t, 'users')
    const { exocom } = await startBus(t)

    exocom.setServices([serviceOf(users, ['users.create'])])
    assert.throws(
      () => exocom.setServices([{ name: '', host: 'h', port: 1, receives: [] }]),
      (error) => isExoRelayError(error, ErrorCodes.INVALID_OPTION),
    )

    assert.deepEqual(Object.keys(exocom.config().services), ['users'])
    assert.equal((await send(exocom, 'users.create', { sender: 'web', id: 'set-1' })).status, 200)
    assert.equal((await users.waitForRuns(1)).length, 1)
  })
})

describe('self-registration', () => {
  test('PUT /services/<name> adds a service that then receives, and logs it at info', async (t) => {
    const users = await startReceiver(t, 'users')
    const { exocom, log } = await startBus(t)

    const answer = await request(
      exocom,
      'PUT',
      '/services/users',
      serviceOf(users, ['users.create']),
    )

    assert.equal(answer.status, 200)
    assert.ok(log.at('info').some((e) => e.message === "service 'users' registered"))
    assert.equal((await send(exocom, 'users.create', { sender: 'web', id: 'reg-1' })).status, 200)
    assert.equal((await users.waitForRuns(1)).length, 1)
  })

  test('PUT /services/<name> again replaces the registration instead of adding a second one', async (t) => {
    const users = await startReceiver(t, 'users')
    const { exocom } = await startBus(t)

    await request(exocom, 'PUT', '/services/users', serviceOf(users, ['users.create']))
    await request(exocom, 'PUT', '/services/users', serviceOf(users, ['users.update']))

    assert.deepEqual(Object.keys(exocom.config().routes), ['users.update'])
  })

  test('PUT /services/<name> with a body of another name is refused with 400', async (t) => {
    const users = await startReceiver(t, 'users')
    const { exocom } = await startBus(t)

    const answer = await request(
      exocom,
      'PUT',
      '/services/other',
      serviceOf(users, ['users.create']),
    )

    assert.equal(answer.status, 400)
    assert.equal(answer.code, ErrorCodes.BUS_INVALID_REGISTRATION)
    assert.match(answer.text, /'users'.*'\/services\/other'/)
    assert.deepEqual(exocom.config().services, {})
  })

  test('DELETE /services/<name> withdraws a service, and an unknown name is a 404', async (t) => {
    const users = await startReceiver(t, 'users')
    const { exocom, log } = await startBus(t, { services: [serviceOf(users, ['users.create'])] })

    assert.equal((await request(exocom, 'DELETE', '/services/users')).status, 200)
    assert.ok(log.at('info').some((e) => e.message === "service 'users' withdrawn"))
    const unknown = await request(exocom, 'DELETE', '/services/users')
    assert.equal(unknown.status, 404)
    assert.equal(unknown.code, ErrorCodes.BUS_UNKNOWN_SERVICE)
    assert.equal(unknown.text, "No service is registered as 'users'.")
    const answer = await send(exocom, 'users.create', { sender: 'web', id: 'gone-1' })
    assert.equal(answer.status, 404)
  })
})

describe('GET /config.json and GET /status', () => {
  test('config.json lists services and routes, omitting a missing internalNamespace', async (t) => {
    const { exocom } = await startBus(t, {
      services: [
        {
          name: 'users',
          host: '127.0.0.1',
          port: 4001,
          receives: ['users.create'],
          sends: ['users.created'],
        },
        {
          name: 'tweets',
          internalNamespace: 'text-snippets',
          host: 'localhost',
          port: 4002,
          // As the service's own service.yml lists them: the first segment stands for it.
          receives: ['text-snippet.create', 'tweets.deleted'],
        },
        { name: 'web', host: '127.0.0.1', port: 4000, receives: ['users.created'] },
      ],
    })

    const answer = await request(exocom, 'GET', '/config.json')

    assert.equal(answer.status, 200)
    const source = 'configured'
    const users = shownWithOneInstance({ name: 'users', host: '127.0.0.1', port: 4001, source })
    const tweets = shownWithOneInstance({
      name: 'tweets',
      host: 'localhost',
      port: 4002,
      internalNamespace: 'text-snippets',
      source,
    })
    const web = shownWithOneInstance({ name: 'web', host: '127.0.0.1', port: 4000, source })
    assert.deepEqual(JSON.parse(answer.text), {
      services: { users, tweets, web },
      routes: {
        'users.create': { receivers: [users] },
        'tweets.create': { receivers: [tweets] },
        'tweets.deleted': { receivers: [tweets] },
        'users.created': { receivers: [web] },
      },
    })
    assert.deepEqual(exocom.config(), JSON.parse(answer.text))
  })

  test('GET /status answers 200', async (t) => {
    const { exocom } = await startBus(t)

    assert.equal((await request(exocom, 'GET', '/status')).status, 200)
  })
})

describe('failures', () => {
  test('a message nobody receives is a 404 with code NO_RECEIVER and a warning', async (t) => {
    const { exocom, log } = await startBus(t)

    const answer = await send(exocom, 'nobody.listens', { sender: 'web', id: 'none-1' })

    assert.equal(answer.status, 404)
    assert.equal(answer.code, ErrorCodes.NO_RECEIVER)
    assert.match(answer.contentType ?? '', /^text\/plain/)
    assert.equal(
      answer.text,
      "No service receives the message 'nobody.listens': no service registered for it, and the routing table lists none. Start the service that handles it; GET /config.json lists the routes.",
    )
    const warning = await log.waitFor((e) => e.level === 'warn')
    assert.deepEqual(warning.fields, {
      sender: 'web',
      messageName: 'nobody.listens',
      messageId: 'none-1',
    })
  })

  test('a receiver that is down costs a warning: the sender gets 200 and the next message is delivered', async (t) => {
    const down = await startReceiver(t, 'down')
    await down.close() // its port now refuses connections
    const users = await startReceiver(t, 'users')
    const { exocom, log } = await startBus(t, {
      services: [serviceOf(down, ['down.ping']), serviceOf(users, ['users.create'])],
    })

    const answer = await send(exocom, 'down.ping', { sender: 'web', id: 'down-1' })

    assert.equal(answer.status, 200)
    const warning = await log.waitFor((e) => e.level === 'warn' && e.fields.messageId === 'down-1')
    assert.equal(warning.fields.receiver, 'down')
    assert.equal(warning.fields.sender, 'web')
    assert.equal(warning.fields.messageName, 'down.ping')
    assert.ok(warning.fields.err instanceof Error)
    assert.match(warning.message ?? '', /unreachable \(ECONNREFUSED\)/)
    assert.equal((await send(exocom, 'users.create', { sender: 'web', id: 'up-1' })).status, 200)
    assert.equal((await users.waitForRuns(1)).length, 1)
  })

  test('a receiver that answers 500 costs a warning with its status', async (t) => {
    const broken = await startReceiver(t, 'broken', 'fail')
    const { exocom, log } = await startBus(t, { services: [serviceOf(broken, ['broken.ping'])] })

    assert.equal((await send(exocom, 'broken.ping', { sender: 'web', id: 'b-1' })).status, 200)

    const warning = await log.waitFor((e) => e.level === 'warn' && e.fields.messageId === 'b-1')
    assert.equal(warning.fields.status, 500)
    assert.equal(warning.fields.response, 'the handler threw')
  })

  test('a hanging receiver times out with a warning while the bus keeps routing', async (t) => {
    const slow = await startReceiver(t, 'slow', 'hang')
    const users = await startReceiver(t, 'users')
    const { exocom, log } = await startBus(t, {
      // Every delivery has this long, the fast ones too: long enough for a loaded machine.
      deliveryTimeout: 1_000,
      services: [serviceOf(slow, ['slow.ping']), serviceOf(users, ['users.create'])],
    })

    assert.equal((await send(exocom, 'slow.ping', { sender: 'web', id: 'slow-1' })).status, 200)
    // The sender was answered while the receiver still holds the request.
    assert.equal((await slow.waitForRuns(1)).length, 1)
    assert.equal((await send(exocom, 'users.create', { sender: 'web', id: 'fast-1' })).status, 200)
    assert.equal((await users.waitForRuns(1)).length, 1)

    const warning = await log.waitFor((e) => e.level === 'warn' && e.fields.messageId === 'slow-1')
    assert.equal(warning.fields.receiver, 'slow')
    assert.ok(warning.fields.err instanceof Error)
    assert.match(warning.message ?? '', /did not answer within 1000 ms/)
    assert.equal((await send(exocom, 'slow.ping', { sender: 'web', id: 'slow-2' })).status, 200)
    assert.equal((await slow.waitForRuns(2)).length, 2)
  })

  test('bad input gets a 4xx with a plain-text sentence and a code, and the bus keeps serving', async (t) => {
    const users = await startReceiver(t, 'users')
    const { exocom } = await startBus(t, {
      bodyLimit: 1024,
      services: [serviceOf(users, ['users.create'])],
    })
    const cases: Array<{
      answer: Promise<Awaited<ReturnType<typeof send>>>
      status: number
      code: string
    }> = [
      {
        answer: send(exocom, 'users.create', { sender: 'web' }),
        status: 400,
        code: ErrorCodes.MISSING_ID,
      },
      {
        answer: request(exocom, 'POST', '/send/users.create', '{"sender": "web", "id": '),
        status: 400,
        code: ErrorCodes.INVALID_MESSAGE,
      },
      {
        answer: request(exocom, 'POST', '/send/users.create', 'hello', 'text/plain'),
        status: 415,
        code: ErrorCodes.INVALID_MESSAGE,
      },
      {
        answer: send(exocom, 'users.create', {
          sender: 'web',
          id: 'big',
          payload: 'x'.repeat(2000),
        }),
        status: 413,
        code: ErrorCodes.INVALID_MESSAGE,
      },
      {
        answer: send(exocom, 'x'.repeat(600), { sender: 'web', id: 'long' }),
        status: 404,
        code: ErrorCodes.UNKNOWN_MESSAGE,
      },
      {
        answer: request(
          exocom,
          'POST',
          '/send/users.create',
          '{"sender": "web", "id": "p", "__proto__": {"polluted": true}}',
        ),
        status: 400,
        code: ErrorCodes.INVALID_MESSAGE,
      },
      {
        answer: send(exocom, 'users.create', { id: 'no-sender' }),
        status: 400,
        code: ErrorCodes.INVALID_MESSAGE,
      },
      {
        answer: send(exocom, 'users.create', ['an', 'array']),
        status: 400,
        code: ErrorCodes.INVALID_MESSAGE,
      },
      {
        answer: send(exocom, 'users.create', { sender: 'web', id: 42 }),
        status: 400,
        code: ErrorCodes.INVALID_MESSAGE,
      },
      {
        answer: request(exocom, 'POST', '/send/a%E0%A4%A', { sender: 'web', id: 'enc' }),
        status: 400,
        code: ErrorCodes.INVALID_MESSAGE,
      },
      {
        answer: request(exocom, 'POST', '/send/', { sender: 'web', id: 'empty' }),
        status: 404,
        code: ErrorCodes.UNKNOWN_MESSAGE,
      },
      {
        answer: request(exocom, 'GET', '/nowhere'),
        status: 404,
        code: ErrorCodes.BUS_NO_ROUTE,
      },
    ]

    for (const [index, expected] of cases.entries()) {
      const answer = await expected.answer
      assert.equal(answer.status, expected.status, `case ${index}: ${answer.text}`)
      assert.equal(answer.code, expected.code, `case ${index}`)
      assert.match(answer.contentType ?? '', /^text\/plain/, `case ${index}`)
      assert.match(answer.text, /\S/, `case ${index}`)
    }
    assert.equal((await cases[0]!.answer).text, 'missing message id')

    assert.equal((await request(exocom, 'GET', '/status')).status, 200)
    assert.equal((await send(exocom, 'users.create', { sender: 'web', id: 'after-1' })).status, 200)
    const runs = await users.waitForRuns(1)
    assert.deepEqual(
      runs.map((run) => run.body),
      [{ id: 'after-1' }],
    )
  })
})

describe('lifecycle', () => {
  test('a port in use rejects with ADDRESS_IN_USE', async (t) => {
    const { exocom } = await startBus(t)

    await assert.rejects(startExoCom({ port: exocom.port, logger: false }), (error) =>
      isExoRelayError(error, ErrorCodes.ADDRESS_IN_USE),
    )
  })

  test('close() frees the port so another ExoCom can listen on it, and is idempotent', async (t) => {
    const first = await startExoCom({ port: 0, logger: false })
    await Promise.all([first.close(), first.close()])
    await first.close()

    const second = await startExoCom({ port: first.port, logger: false })
    t.after(() => second.close())

    assert.equal(second.port, first.port)
    assert.equal((await request(second, 'GET', '/status')).status, 200)
  })

  test('the url names the host and bound port, and the start is logged', async (t) => {
    const { exocom, log } = await startBus(t)

    assert.ok(exocom.port > 0)
    assert.equal(exocom.url, `http://127.0.0.1:${exocom.port}`)
    assert.ok(
      log
        .at('info')
        .some((e) => e.message === `ExoCom online at port ${exocom.port} (${exocom.url})`),
    )
  })

  test('bad options reject with INVALID_OPTION', async () => {
    const bad = [
      { port: -1 },
      { port: 1.5 },
      { host: '' },
      { deliveryTimeout: 0 },
      { bodyLimit: -5 },
      { services: [{ name: 'x', host: 'h', port: 0, receives: [] }] },
    ]
    for (const options of bad) {
      await assert.rejects(
        startExoCom({ logger: false, ...options }),
        (error) => isExoRelayError(error, ErrorCodes.INVALID_OPTION),
        JSON.stringify(options),
      )
    }
  })
})

const TOKEN = 's3cret-bus-token-1732050807'
const BEARER = `Bearer ${TOKEN}`

describe('the shared secret', () => {
  test('a send with the token is routed, and the delivery carries the token too', async (t) => {
    const users = await startReceiver(t, 'users')
    const { exocom } = await startBus(t, {
      token: TOKEN,
      services: [serviceOf(users, ['users.create'])],
    })

    const answer = await send(exocom, 'users.create', { sender: 'web', id: 'auth-1' }, BEARER)

    assert.equal(answer.status, 200)
    const [run] = await users.waitForRuns(1)
    assert.equal(run?.headers.authorization, BEARER)
    assert.deepEqual(run?.body, { id: 'auth-1' })
  })

  test('a send without the token, with a wrong one or one of another length is a 401 and nothing is delivered', async (t) => {
    const users = await startReceiver(t, 'users')
    const { exocom } = await startBus(t, {
      token: TOKEN,
      services: [serviceOf(users, ['users.create'])],
    })
    const refused = [
      undefined,
      `Bearer ${'z'.repeat(TOKEN.length)}`,
      'Bearer short',
      `Bearer ${TOKEN}-and-more`,
      `Basic ${TOKEN}`,
    ]

    for (const [index, authorization] of refused.entries()) {
      const answer = await send(
        exocom,
        'users.create',
        { sender: 'web', id: `no-${index}` },
        authorization,
      )
      assert.equal(answer.status, 401, String(authorization))
      assert.equal(answer.code, ErrorCodes.UNAUTHORIZED)
      assert.equal(answer.text, 'missing or invalid token')
    }
    // The one accepted send proves the route works; it is the only delivery.
    await send(exocom, 'users.create', { sender: 'web', id: 'yes' }, BEARER)
    await exocom.close() // waits for every delivery in flight

    assert.deepEqual(
      users.runs.map((run) => run.body),
      [{ id: 'yes' }],
    )
  })

  test('every route but GET /status needs the token', async (t) => {
    const users = await startReceiver(t, 'users')
    const { exocom } = await startBus(t, { token: TOKEN })
    const registration = serviceOf(users, ['users.create'])

    const refused = [
      await request(exocom, 'POST', '/services', [registration]),
      await request(exocom, 'PUT', '/services/users', registration),
      await request(exocom, 'DELETE', '/services/users'),
      await request(exocom, 'GET', '/config.json'),
      await request(exocom, 'GET', '/nowhere'),
    ]
    const status = await request(exocom, 'GET', '/status')
    const allowed = await request(exocom, 'GET', '/config.json', undefined, undefined, {
      authorization: BEARER,
    })

    assert.deepEqual(
      refused.map((answer) => [answer.status, answer.code]),
      Array.from({ length: refused.length }, () => [401, ErrorCodes.UNAUTHORIZED]),
    )
    assert.deepEqual(exocom.config().services, {})
    assert.equal(status.status, 200)
    assert.equal(allowed.status, 200)
  })

  test('the token is checked before the body is read', async (t) => {
    const { exocom } = await startBus(t, { token: TOKEN, bodyLimit: 64 })

    // Each would be a 400, 413 or 415 once parsed; refused first, none of them is.
    const answers = [
      await request(exocom, 'POST', '/send/users.create', '{"sender": "web", "id": '),
      await send(exocom, 'users.create', { sender: 'web', id: 'x', payload: 'y'.repeat(500) }),
      await request(exocom, 'POST', '/send/users.create', 'hello', 'text/plain'),
    ]

    assert.deepEqual(
      answers.map((answer) => answer.status),
      [401, 401, 401],
    )
  })

  test('the token appears in no log entry', async (t) => {
    const users = await startReceiver(t, 'users')
    const down = await startReceiver(t, 'down')
    await down.close()
    const { exocom, log } = await startBus(t, {
      token: TOKEN,
      services: [serviceOf(users, ['users.create']), serviceOf(down, ['down.ping'])],
    })

    await send(exocom, 'users.create', { sender: 'web', id: 'l-1' }, BEARER)
    await send(exocom, 'users.create', { sender: 'web', id: 'l-2' }, `Bearer ${TOKEN}x`)
    await send(exocom, 'down.ping', { sender: 'web', id: 'l-3' }, BEARER)
    await exocom.close()

    assert.ok(log.at('info').some((e) => e.fields.messageId === 'l-1'))
    assert.ok(log.at('warn').some((e) => e.message === 'request refused: missing or invalid token'))
    assert.ok(log.at('warn').some((e) => e.fields.messageId === 'l-3'))
    assert.ok(!inspect(log.entries, { depth: 10 }).includes(TOKEN), 'the token leaked')
  })

  test('a token that cannot travel in a header is refused with INVALID_OPTION, unquoted', async () => {
    for (const token of ['', 'two words', 'grüße']) {
      await assert.rejects(startExoCom({ port: 0, logger: false, token }), (error: Error) => {
        assert.ok(isExoRelayError(error, ErrorCodes.INVALID_OPTION))
        if (token !== '') assert.ok(!error.message.includes(token))
        return true
      })
    }
  })
})

describe('graceful close', () => {
  test('a delivery in flight to a slow receiver is still delivered, and a send meanwhile gets 503', {
    timeout: 20_000,
  }, async (t) => {
    const slow = await startReceiver(t, 'slow', 'hang')
    const { exocom, log } = await startBus(t, { services: [serviceOf(slow, ['slow.ping'])] })
    assert.equal((await send(exocom, 'slow.ping', { sender: 'web', id: 'c-1' })).status, 200)
    await slow.waitForRuns(1)

    const closed = exocom.close()
    const late = await send(exocom, 'slow.ping', { sender: 'web', id: 'c-2' })
    const status = await request(exocom, 'GET', '/status')
    slow.release()
    await closed

    assert.equal(late.status, 503)
    assert.equal(late.code, ErrorCodes.BUS_CLOSING)
    assert.equal(late.text, 'ExoCom is shutting down')
    assert.equal(status.status, 200)
    const delivered = log.at('info').find((e) => e.fields.messageId === 'c-1')
    assert.equal(delivered?.message, 'web  --[ slow.ping ]->  slow')
    assert.deepEqual(
      slow.runs.map((run) => run.body),
      [{ id: 'c-1' }],
    )
    assert.equal(log.at('warn').length, 0)
  })

  test('a send after close gets a refused connection, never a hang', async (t) => {
    const users = await startReceiver(t, 'users')
    const { exocom } = await startBus(t, { services: [serviceOf(users, ['users.create'])] })
    await exocom.close()

    await assert.rejects(send(exocom, 'users.create', { sender: 'web', id: 'after' }), (error) => {
      assert.equal(((error as Error).cause as { code?: string }).code, 'ECONNREFUSED')
      return true
    })
    assert.equal(users.runs.length, 0)
  })
})

describe('slow and dead receivers', () => {
  test('a hanging receiver holds up neither the other receiver of the same name nor other messages', {
    timeout: 20_000,
  }, async (t) => {
    const slow = await startReceiver(t, 'slow', 'hang')
    const fast = await startReceiver(t, 'fast')
    const other = await startReceiver(t, 'other')
    const { exocom, log } = await startBus(t, {
      services: [
        serviceOf(slow, ['users.create']),
        serviceOf(fast, ['users.create']),
        serviceOf(other, ['other.ping']),
      ],
    })
    const delivered = (receiver: string, id: string) =>
      log.waitFor(
        (e) => e.level === 'info' && e.fields.receiver === receiver && e.fields.messageId === id,
      )

    await send(exocom, 'users.create', { sender: 'web', id: 'h-1' })
    await slow.waitForRuns(1) // the slow receiver now holds h-1
    await delivered('fast', 'h-1')
    await send(exocom, 'other.ping', { sender: 'web', id: 'h-2' })
    await delivered('other', 'h-2')
    await send(exocom, 'users.create', { sender: 'web', id: 'h-3' })
    await delivered('fast', 'h-3')
    await slow.waitForRuns(2)
    slow.release()
    await delivered('slow', 'h-1')
    await delivered('slow', 'h-3')

    const order = log
      .at('info')
      .filter((e) => e.fields.messageId !== undefined)
      .map((e) => `${e.fields.receiver} ${e.fields.messageId}`)
    assert.deepEqual(order.slice(0, 3), ['fast h-1', 'other h-2', 'fast h-3'])
    assert.deepEqual(order.slice(3).sort(), ['slow h-1', 'slow h-3'])
    assert.equal(log.at('warn').length, 0)
  })

  test('200 messages to a receiver that is down leave the bus serving', {
    timeout: 20_000,
  }, async (t) => {
    const down = await startReceiver(t, 'down')
    await down.close() // its port now refuses connections
    const users = await startReceiver(t, 'users')
    const { exocom, log } = await startBus(t, {
      services: [serviceOf(down, ['down.ping']), serviceOf(users, ['users.create'])],
    })

    const sends = Array.from({ length: 200 }, (_, index) =>
      send(exocom, 'down.ping', { sender: 'web', id: `d-${index}` }),
    )
    const status = await request(exocom, 'GET', '/status')
    const answers = await Promise.all(sends)
    await log.waitFor(() => log.at('warn').length >= 200)
    const after = await send(exocom, 'users.create', { sender: 'web', id: 'up-1' })
    await users.waitForRuns(1)

    assert.equal(status.status, 200)
    assert.ok(answers.every((answer) => answer.status === 200))
    const warnings = log.at('warn')
    assert.equal(warnings.length, 200)
    assert.ok(warnings.every((e) => /unreachable \(ECONNREFUSED\)/.test(e.message ?? '')))
    assert.equal(after.status, 200)
    assert.equal((await request(exocom, 'GET', '/status')).status, 200)
  })
})
