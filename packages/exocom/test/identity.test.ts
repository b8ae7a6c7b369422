import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { inspect } from 'node:util'
import { ErrorCodes } from '@exorelay/core'
import { startExoCom } from '../src/exocom.js'
import { HostLookups, LookupRefused } from '../src/identity.js'
import type { ExoComCredentials, ExoComOptions } from '../src/options.js'
import {
  type Answer,
  request,
  send,
  serviceOf,
  startBus,
  startReceiver,
  withDeadline,
} from './helpers.js'

// Issue 14, case 5: what any client can do to a bus, on an open bus (where it is allowed, and
// each test documents that), with the shared token (the documented limit), and in identity
// mode (decision 0018), where each of them is refused.

const USERS_TOKEN = 'users-token-5b0f7c2e'
const WEB_TOKEN = 'web-token-91d4a6b3'
const OPERATOR_TOKEN = 'operator-token-c7e2d815'
const SHARED_TOKEN = 'shared-token-4a8e1f90'
const CREDENTIALS: ExoComCredentials = {
  operator: OPERATOR_TOKEN,
  services: { users: USERS_TOKEN, web: WEB_TOKEN },
}
const AS_USERS = { authorization: `Bearer ${USERS_TOKEN}` }
const AS_WEB = { authorization: `Bearer ${WEB_TOKEN}` }
const AS_OPERATOR = { authorization: `Bearer ${OPERATOR_TOKEN}` }

type Mode = 'open' | 'identity'

/** `PUT /services/users` with `registration`, carrying `headers` (a token). */
function register(
  exocom: Awaited<ReturnType<typeof startBus>>['exocom'],
  registration: unknown,
  headers: Record<string, string>,
): Promise<Answer> {
  return request(exocom, 'PUT', '/services/users', registration, undefined, headers)
}

function busOptions(mode: Mode, extra: ExoComOptions = {}): ExoComOptions {
  return mode === 'open' ? extra : { credentials: CREDENTIALS, ...extra }
}

function assertForbidden(answer: Answer, ...mentions: string[]): void {
  assert.equal(answer.status, 403, answer.text)
  assert.equal(answer.code, ErrorCodes.FORBIDDEN)
  for (const mention of mentions) assert.ok(answer.text.includes(mention), answer.text)
}

/** The services of the table, as the operator reads them. */
async function tableOf(
  exocom: Awaited<ReturnType<typeof startBus>>['exocom'],
): Promise<Record<string, { host: string; port: number }>> {
  return exocom.config().services
}

describe('taking over a service name', () => {
  test('on an open bus any local process registers as users and gets its messages', async (t) => {
    const users = await startReceiver(t, 'users')
    const impostor = await startReceiver(t, 'users')
    const { exocom } = await startBus(t, { services: [serviceOf(users, ['users.create'])] })

    const taken = await request(
      exocom,
      'PUT',
      '/services/users',
      serviceOf(impostor, ['users.create']),
    )
    const sent = await send(exocom, 'users.create', { sender: 'web', id: 'm1' })

    assert.equal(taken.status, 200)
    assert.equal(sent.status, 200)
    assert.equal((await impostor.waitForRuns(1))[0]?.name, 'users.create')
    assert.equal(users.runs.length, 0)
  })

  test('with the shared token any holder takes the name over too: the documented limit of that mode', async (t) => {
    const users = await startReceiver(t, 'users')
    const impostor = await startReceiver(t, 'users')
    const { exocom } = await startBus(t, {
      token: SHARED_TOKEN,
      services: [serviceOf(users, ['users.create'])],
    })
    const bearer = `Bearer ${SHARED_TOKEN}`

    const taken = await request(
      exocom,
      'PUT',
      '/services/users',
      serviceOf(impostor, ['users.create']),
      undefined,
      { authorization: bearer },
    )
    await send(exocom, 'users.create', { sender: 'web', id: 'm1' }, bearer)

    assert.equal(taken.status, 200)
    const [run] = await impostor.waitForRuns(1)
    // The impostor even learns the shared token from the delivery.
    assert.equal(run?.headers.authorization, bearer)
  })

  test('in identity mode a registration as users without a credential is a 401, with web’s a 403, and users keeps its name', async (t) => {
    const users = await startReceiver(t, 'users')
    const impostor = await startReceiver(t, 'users')
    const { exocom, log } = await startBus(t, {
      ...busOptions('identity'),
      services: [serviceOf(users, ['users.create'])],
    })
    const registration = serviceOf(impostor, ['users.create'])

    const anonymous = await request(exocom, 'PUT', '/services/users', registration)
    const asWeb = await register(exocom, registration, AS_WEB)

    assert.equal(anonymous.status, 401)
    assert.equal(anonymous.code, ErrorCodes.UNAUTHORIZED)
    assertForbidden(asWeb, "the service 'web'", "'users'", 'Use the token of')
    assert.equal((await tableOf(exocom)).users?.port, users.port)
    assert.ok(log.at('warn').some((entry) => entry.fields.credential === 'web'))
  })

  test('in identity mode users registers itself with its own token, and its deliveries carry that token', async (t) => {
    const users = await startReceiver(t, 'users')
    const { exocom } = await startBus(t, busOptions('identity'))

    const registered = await register(exocom, serviceOf(users, ['users.create']), AS_USERS)
    const sent = await send(exocom, 'users.create', { id: 'm1' }, AS_WEB.authorization)

    assert.equal(registered.status, 200)
    assert.equal(sent.status, 200)
    const [run] = await users.waitForRuns(1)
    assert.equal(run?.headers.authorization, AS_USERS.authorization)
  })
})

describe('withdrawing another service', () => {
  for (const mode of ['open', 'identity'] as const) {
    test(`${mode === 'open' ? 'on an open bus anyone withdraws users (200)' : 'in identity mode web cannot withdraw users (403); users and the operator can'}`, async (t) => {
      const users = await startReceiver(t, 'users')
      const { exocom } = await startBus(t, busOptions(mode))
      const registration = serviceOf(users, ['users.create'])
      const asUsers = mode === 'open' ? {} : AS_USERS
      assert.equal(
        (await request(exocom, 'PUT', '/services/users', registration, undefined, asUsers)).status,
        200,
      )

      const withdrawn = await request(
        exocom,
        'DELETE',
        '/services/users',
        undefined,
        undefined,
        mode === 'open' ? {} : AS_WEB,
      )

      if (mode === 'open') {
        assert.equal(withdrawn.status, 200)
        assert.equal((await tableOf(exocom)).users, undefined)
        return
      }
      assertForbidden(withdrawn, "the service 'web'", 'withdraw')
      assert.equal((await tableOf(exocom)).users?.port, users.port)
      const byOperator = await request(
        exocom,
        'DELETE',
        '/services/users',
        undefined,
        undefined,
        AS_OPERATOR,
      )
      assert.equal(byOperator.status, 200)
      assert.equal((await register(exocom, registration, AS_USERS)).status, 200)
      assert.equal(
        (await request(exocom, 'DELETE', '/services/users', undefined, undefined, AS_USERS)).status,
        200,
      )
    })
  }
})

describe('the table: POST /services and GET /config.json', () => {
  test('on an open bus anyone wipes the table and reads every host and port', async (t) => {
    const users = await startReceiver(t, 'users')
    const { exocom } = await startBus(t, { services: [serviceOf(users, ['users.create'])] })

    const read = await request(exocom, 'GET', '/config.json')
    const wiped = await request(exocom, 'POST', '/services', [])

    assert.equal(read.status, 200)
    assert.ok(read.text.includes(`"port":${users.port}`))
    assert.equal(wiped.status, 200)
    assert.deepEqual(await tableOf(exocom), {})
  })

  test('in identity mode a service credential may neither set nor read the table (403); the operator may', async (t) => {
    const users = await startReceiver(t, 'users')
    const { exocom } = await startBus(t, {
      ...busOptions('identity'),
      services: [serviceOf(users, ['users.create'])],
    })

    assertForbidden(
      await request(exocom, 'POST', '/services', [], undefined, AS_USERS),
      'set the routing table',
      "the service 'users'",
      'operator',
    )
    assertForbidden(
      await request(exocom, 'GET', '/config.json', undefined, undefined, AS_WEB),
      'read the routing table',
      "the service 'web'",
    )
    assert.equal((await tableOf(exocom)).users?.port, users.port)

    const read = await request(exocom, 'GET', '/config.json', undefined, undefined, AS_OPERATOR)
    assert.equal(read.status, 200)
    assert.ok(read.text.includes(`"port":${users.port}`))
    const wiped = await request(exocom, 'POST', '/services', [], undefined, AS_OPERATOR)
    assert.equal(wiped.status, 200)
    assert.deepEqual(await tableOf(exocom), {})
  })

  test('in identity mode GET /status stays open', async (t) => {
    const { exocom } = await startBus(t, busOptions('identity'))
    assert.equal((await request(exocom, 'GET', '/status')).status, 200)
  })
})

describe('making the bus post to an address it names', () => {
  test('on an open bus a registration naming 10.255.255.1 is taken', async (t) => {
    const { exocom } = await startBus(t)
    const answer = await request(exocom, 'PUT', '/services/users', {
      name: 'users',
      host: '10.255.255.1',
      port: 80,
      receives: ['users.create'],
    })
    assert.equal(answer.status, 200)
    assert.equal((await tableOf(exocom)).users?.host, '10.255.255.1')
  })

  test('in identity mode it is refused with 403 naming the host, the connection and the option', async (t) => {
    const { exocom } = await startBus(t, busOptions('identity'))
    const registration = {
      name: 'users',
      host: '10.255.255.1',
      port: 80,
      receives: ['users.create'],
    }

    const refused = await register(exocom, registration, AS_USERS)

    assertForbidden(
      refused,
      "'10.255.255.1'",
      "'127.0.0.1'",
      "registrationAddresses: 'any' (the exocom command: --registration-addresses any)",
    )
    assert.equal((await tableOf(exocom)).users, undefined)
    // The operator registers whatever address its services have.
    const byOperator = await register(exocom, registration, AS_OPERATOR)
    assert.equal(byOperator.status, 200)
  })

  test("in identity mode the connection's own address is taken, as an IP literal or a host name resolving to it", async (t) => {
    const users = await startReceiver(t, 'users')
    const { exocom } = await startBus(t, busOptions('identity'))

    for (const host of ['127.0.0.1', '::ffff:127.0.0.1', 'localhost']) {
      const answer = await register(
        exocom,
        { ...serviceOf(users, ['users.create']), host },
        AS_USERS,
      )
      assert.equal(answer.status, 200, `${host}: ${answer.text}`)
    }
    const unknown = await register(
      exocom,
      { ...serviceOf(users, ['users.create']), host: 'no-such-host.invalid' },
      AS_USERS,
    )
    assertForbidden(unknown, "'no-such-host.invalid'", 'does not resolve')
  })

  test("registrationAddresses: 'any' lets a service register another address", async (t) => {
    const { exocom } = await startBus(t, busOptions('identity', { registrationAddresses: 'any' }))
    const answer = await register(
      exocom,
      { name: 'users', host: '10.255.255.1', port: 80, receives: [] },
      AS_USERS,
    )
    assert.equal(answer.status, 200)
  })
})

describe('sending under another service’s name', () => {
  test('on an open bus web sends as users', async (t) => {
    const users = await startReceiver(t, 'users')
    const { exocom, log } = await startBus(t, { services: [serviceOf(users, ['users.create'])] })

    const answer = await send(exocom, 'users.create', { sender: 'users', id: 'm1' })

    assert.equal(answer.status, 200)
    await exocom.close() // waits for the delivery, and its log line
    assert.equal(users.runs.length, 1)
    assert.ok(log.at('info').some((entry) => entry.fields.sender === 'users'))
  })

  test('in identity mode a sender other than the credential is a 403; none or its own is the credential’s', async (t) => {
    const users = await startReceiver(t, 'users')
    const { exocom, log } = await startBus(t, {
      ...busOptions('identity'),
      services: [serviceOf(users, ['users.create'])],
    })

    const impersonated = await send(
      exocom,
      'users.create',
      { sender: 'users', id: 'm1' },
      AS_WEB.authorization,
    )
    const unnamed = await send(exocom, 'users.create', { id: 'm2' }, AS_WEB.authorization)
    const own = await send(
      exocom,
      'users.create',
      { sender: 'web', id: 'm3' },
      AS_WEB.authorization,
    )
    const byOperator = await send(
      exocom,
      'users.create',
      { sender: 'users', id: 'm4' },
      AS_OPERATOR.authorization,
    )

    assertForbidden(impersonated, "'users'", "the service 'web'", "Leave 'sender' out")
    assert.equal(unnamed.status, 200)
    assert.equal(own.status, 200)
    assert.equal(byOperator.status, 200)
    await exocom.close() // waits for the deliveries, and their log lines
    const runs = users.runs
    assert.deepEqual(runs.map((run) => (run.body as { id: string }).id).sort(), ['m2', 'm3', 'm4'])
    const senders = log.at('info').filter((entry) => entry.fields.messageId !== undefined)
    assert.deepEqual(
      senders.map((entry) => `${entry.fields.messageId} ${entry.fields.sender}`).sort(),
      ['m2 web', 'm3 web', 'm4 users'],
    )
  })

  test('in identity mode each message of a batch gets its own result', async (t) => {
    const users = await startReceiver(t, 'users')
    const { exocom } = await startBus(t, {
      ...busOptions('identity'),
      services: [serviceOf(users, ['users.create'])],
    })

    const answer = await request(
      exocom,
      'POST',
      '/send',
      [
        { name: 'users.create', sender: 'web', id: 'b1' },
        { name: 'users.create', sender: 'users', id: 'b2' },
        { name: 'users.create', id: 'b3' },
      ],
      undefined,
      AS_WEB,
    )

    assert.equal(answer.status, 200)
    const results = JSON.parse(answer.text) as Array<{
      status: number
      code?: string
      error?: string
    }>
    assert.deepEqual(
      results.map((result) => result.status),
      [200, 403, 200],
    )
    assert.equal(results[1]?.code, ErrorCodes.FORBIDDEN)
    assert.match(results[1]?.error ?? '', /names the sender 'users'/)
    const runs = await users.waitForRuns(2)
    assert.deepEqual(
      runs
        .flatMap((run) => (Array.isArray(run.body) ? run.body : [run.body]))
        .map((body) => (body as { id: string }).id)
        .sort(),
      ['b1', 'b3'],
    )
  })
})

describe('the credentials option', () => {
  test('it cannot be given with the shared token: INVALID_OPTION naming both and the fix', async () => {
    await assert.rejects(
      startExoCom({ port: 0, logger: false, token: SHARED_TOKEN, credentials: CREDENTIALS }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, ErrorCodes.INVALID_OPTION)
        assert.match(error.message, /token and credentials options cannot both be set/)
        assert.match(error.message, /Keep one of them/)
        return true
      },
    )
  })

  test('two holders with one token, a bad token or no holder at all are refused, and no token is quoted', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [
        { services: { users: 'same-token', web: 'same-token' } },
        /the service 'users' and the service 'web' the same token/,
      ],
      [
        { operator: 'same-token', services: { users: 'same-token' } },
        /the operator and the service 'users' the same token/,
      ],
      [{ services: { users: 'two words' } }, /token of the service 'users'/],
      [{ services: {} }, /names no service and no operator/],
      [{ services: [] }, /needs 'services'/],
      [{ operator: 'op-token' }, /needs 'services', .*: 'services' is missing\.$/],
      [
        { operater: 'op-token', services: { users: 'users-token' } },
        /has the key 'operater', which ExoCom does not know: the keys are 'operator' and 'services'/,
      ],
      [{ service: { users: 'users-token' } }, /has the key 'service', which ExoCom does not know/],
      ['users=x', /must be an object/],
    ]
    for (const [credentials, expected] of cases) {
      await assert.rejects(
        startExoCom({ port: 0, logger: false, credentials: credentials as ExoComCredentials }),
        (error: Error & { code?: string }) => {
          assert.equal(error.code, ErrorCodes.INVALID_OPTION)
          assert.match(error.message, expected)
          assert.ok(!error.message.includes('same-token') && !error.message.includes('two words'))
          return true
        },
      )
    }
  })

  test('registrationAddresses without credentials is refused with a sentence naming the option, the flag and the fix', async () => {
    for (const registrationAddresses of ['any', 'connection'] as const) {
      await assert.rejects(
        startExoCom({ port: 0, logger: false, registrationAddresses }),
        (error: Error & { code?: string }) => {
          assert.equal(error.code, ErrorCodes.INVALID_OPTION)
          assert.match(
            error.message,
            /^The registrationAddresses option \(--registration-addresses\) is a setting of identity mode, and no credentials are set: .* Set credentials \(--credentials <file> or EXOCOM_CREDENTIALS\), or leave registrationAddresses out\.$/,
          )
          return true
        },
      )
    }
  })

  test('a registrationAddresses other than connection or any names the option and the flag', async () => {
    await assert.rejects(
      startExoCom({
        port: 0,
        logger: false,
        credentials: CREDENTIALS,
        registrationAddresses: 'all' as 'any',
      }),
      {
        code: ErrorCodes.INVALID_OPTION,
        message:
          "The registrationAddresses option (--registration-addresses) must be 'connection' or 'any', got 'all'.",
      },
    )
  })

  test('the start line says identity mode in words; without an operator a warning at start says what nobody can do', async (t) => {
    const { log } = await startBus(t, busOptions('identity'))
    const { log: without } = await startBus(t, {
      credentials: { services: { users: USERS_TOKEN } },
    })

    assert.match(
      log.at('info')[0]?.message ?? '',
      /^ExoCom online at port \d+ \(http:\/\/127\.0\.0\.1:\d+\), identity mode: 2 services with credentials, and an operator$/,
    )
    assert.deepEqual(log.at('warn'), [])
    assert.match(
      without.at('info')[0]?.message ?? '',
      /identity mode: 1 service with credentials, and no operator$/,
    )
    const warnings = without.at('warn').map((entry) => entry.message)
    assert.equal(warnings.length, 1)
    assert.match(
      warnings[0] ?? '',
      /nobody can read the routing table \(GET \/config\.json\) or set it \(POST \/services\)/,
    )
  })

  test('no token appears in any log entry of a bus in identity mode', async (t) => {
    const users = await startReceiver(t, 'users')
    const { exocom, log } = await startBus(t, busOptions('identity'))
    await register(exocom, serviceOf(users, ['users.create']), AS_USERS)
    await register(exocom, serviceOf(users, ['users.create']), AS_WEB)
    await send(exocom, 'users.create', { sender: 'users', id: 'm1' }, AS_WEB.authorization)
    await send(exocom, 'users.create', { id: 'm2' }, AS_WEB.authorization)
    await users.waitForRuns(1)
    await exocom.close()

    const logged = inspect(log.entries, { depth: 10 })
    for (const token of [USERS_TOKEN, WEB_TOKEN, OPERATOR_TOKEN]) assert.ok(!logged.includes(token))
  })
})

describe('the lookups of the address check', () => {
  /** A lookup that ends when the test says so. */
  function controlledLookups() {
    const pending: Array<{ host: string; end: (addresses: string[]) => void }> = []
    const lookup = (host: string) =>
      new Promise<string[]>((resolve) => {
        pending.push({ host, end: resolve })
      })
    return { lookup, pending }
  }

  test('a host name that does not resolve within the deadline is refused naming it, and its lookup keeps its turn until it ends', async () => {
    const { lookup, pending } = controlledLookups()
    const lookups = new HostLookups({ lookup, timeout: 50, concurrency: 1 })

    const slow = lookups.resolve('slow.example')
    const next = lookups.resolve('next.example')
    await withDeadline(
      assert.rejects(slow, (error: Error) => {
        assert.ok(error instanceof LookupRefused)
        assert.equal(error.message, 'the host did not resolve within 50 ms')
        return true
      }),
      5_000,
      () => 'the slow lookup was not refused',
    )
    // The one waiting ran out of time too, without a turn: the slow lookup still holds it.
    await withDeadline(assert.rejects(next, LookupRefused), 5_000, () => 'the waiting one stayed')
    assert.equal(lookups.active, 1)
    assert.deepEqual(
      pending.map(({ host }) => host),
      ['slow.example'],
    )
    pending[0]?.end(['127.0.0.1'])
    const after = lookups.resolve('after.example')
    await withDeadline(
      (async () => {
        while (pending.length < 2) await new Promise((resolve) => setImmediate(resolve))
      })(),
      5_000,
      () => 'the turn was not given back',
    )
    pending[1]?.end(['10.0.0.1'])
    assert.deepEqual(await after, ['10.0.0.1'])
  })

  test('at most 4 lookups run at once by default; the others wait for a turn, and past the waiting bound one is refused at once', async () => {
    const { lookup, pending } = controlledLookups()
    const lookups = new HostLookups({ lookup, maxWaiting: 2 })

    const answers = ['a', 'b', 'c', 'd', 'e', 'f'].map((host) => lookups.resolve(`${host}.example`))
    const refused = lookups.resolve('g.example')

    await withDeadline(
      assert.rejects(refused, /the bus is resolving 4 host names and 2 more wait/),
      5_000,
      () => 'the seventh was not refused',
    )
    assert.equal(lookups.active, 4)
    assert.equal(pending.length, 4)
    pending[0]?.end(['10.0.0.1'])
    assert.deepEqual(await answers[0], ['10.0.0.1'])
    // The fifth got the turn given back.
    while (pending.length < 5)
      await withDeadline(new Promise((resolve) => setImmediate(resolve)), 5_000, () => 'no turn')
    assert.equal(pending[4]?.host, 'e.example')
    for (const { end } of pending.slice(1)) end([])
    for (const answer of answers.slice(1, 5)) assert.deepEqual(await answer, [])
    while (pending.length < 6)
      await withDeadline(new Promise((resolve) => setImmediate(resolve)), 5_000, () => 'no turn')
    pending[5]?.end([])
    assert.deepEqual(await answers[5], [])
  })
})
