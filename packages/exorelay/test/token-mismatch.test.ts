import assert from 'node:assert/strict'
import { once } from 'node:events'
import { describe, test } from 'node:test'
import { startExoCom } from '@exorelay/exocom'
import { RecordingLogger, withDeadline } from '@exorelay/testing'
import { ErrorCodes, ExoRelay, type ExoRelayError } from '../src/index.js'
import { DEADLINE, errorLines, landscape, statusRoute } from './auth-landscape.js'

// Case 7 of issue 14: a relay and a bus whose tokens differ looked healthy (`registered: true,
// bus: 'reachable'`) while every request to the relay timed out. Both directions, with a real
// bus and real relays on 127.0.0.1.

const TOKEN = 's3cret-token-1618033988'

describe('a token mismatch is loud', () => {
  test("a relay whose token the bus refuses emits error once, logs the fix at error and reports bus 'unauthorized'", async (t) => {
    const { relay } = await landscape(t, { token: TOKEN })
    // One relay without a token, one with another: the bus answers both 401.
    for (const token of [undefined, 'another-token']) {
      const { relay: web, log, errors } = relay('web', token === undefined ? {} : { token })
      const first = once(web, 'error', { signal: AbortSignal.timeout(DEADLINE) })
      const port = await web.listen()
      await first

      // Several refusals more: the registration was one, each send is another.
      for (let attempt = 0; attempt < 3; attempt++) {
        await assert.rejects(web.send('users.create', {}, { timeout: DEADLINE }), {
          code: ErrorCodes.BUS_REFUSED,
          status: 401,
        })
      }

      assert.equal(errors.length, 1, `${token}: one error event for four refusals`)
      const [error] = errors
      assert.equal(error?.code, ErrorCodes.UNAUTHORIZED)
      assert.equal((error as ExoRelayError & { status?: number }).status, 401)
      const problem =
        token === undefined
          ? 'wants a token and this relay sends none'
          : "refused this relay's token"
      assert.match(
        error?.message ?? '',
        new RegExp(
          `^ExoCom at http://localhost:\\d+ ${problem} \\(401\\)\\. Give the relay the token ExoCom expects: the installation's shared EXOCOM_TOKEN, or, when ExoCom has per-service credentials \\(--credentials\\), this service's token from its credentials file \\(EXOCOM_TOKEN, the token option\\)\\.$`,
        ),
      )
      assert.deepEqual(errorLines(log), [[ErrorCodes.UNAUTHORIZED, error?.message]])
      // An expected refusal is said once: no warning per retry, no stack.
      assert.deepEqual(log.at('warn'), [])
      assert.equal(web.status().bus, 'unauthorized')
      assert.equal(web.status().registered, false)
      assert.equal(await statusRoute(port, 'bus'), 'unauthorized')
      assert.ok(!JSON.stringify(log.entries).includes(TOKEN), 'the token leaked')
    }
  })

  test("a relay with a token on a bus without one emits error once when the bus delivers without it, and reports bus 'unauthorized'", async (t) => {
    const { relay } = await landscape(t, {})
    const { relay: users, log, errors } = relay('users', { token: TOKEN })
    const { relay: web } = relay('web', { register: false })
    let ran = 0
    users.registerHandler('users.created', () => {
      ran++
    })
    const port = await users.listen()
    await web.listen()
    // The bus took the registration: it ignores the token.
    assert.equal(await statusRoute(port, 'registered'), true)
    const first = once(users, 'error', { signal: AbortSignal.timeout(DEADLINE) })

    for (let delivery = 1; delivery <= 3; delivery++) {
      await web.send('users.created', { delivery }, { reply: false, timeout: DEADLINE })
      // One delivery at a time, so that each is refused on its own (not in one batch).
      await waitForRefusals(log, delivery)
    }
    const [error] = (await first) as [ExoRelayError]

    assert.equal(ran, 0)
    assert.equal(errors.length, 1, 'one error event for three refused deliveries')
    assert.equal(error.code, ErrorCodes.UNAUTHORIZED)
    assert.match(
      error.message,
      /^This relay refused POST \/run\/users\.created from 127\.0\.0\.1 with 401 because it came without the relay's token, and ExoCom takes requests without a token: ExoCom delivers without it\. Start ExoCom with a token \(EXOCOM_TOKEN, or per-service credentials with --credentials\) and give every relay the token ExoCom expects of it\.$/,
    )
    assert.deepEqual(errorLines(log), [[ErrorCodes.UNAUTHORIZED, error.message]])
    assert.equal(users.status().bus, 'unauthorized')
    assert.equal(await statusRoute(port, 'bus'), 'unauthorized')
  })

  test('a requester whose only receiver refuses the bus for its token learns it at once, not at its deadline', async (t) => {
    const { relay } = await landscape(t, {})
    const { relay: users } = relay('users', { token: TOKEN })
    const { relay: web } = relay('web')
    users.registerHandler('users.create', (user, { reply }) => reply('users.created', user))
    await Promise.all([users.listen(), web.listen()])

    // The send would wait 60 s for a reply; the test allows DEADLINE.
    const sent = web.send('users.create', { name: 'Will' }, { timeout: 60_000 }).then(
      () => assert.fail('the send resolved'),
      (rejection: unknown) => rejection as ExoRelayError & { status?: number },
    )
    const error = await withDeadline(sent, DEADLINE, () => 'the send waited for its deadline')

    assert.equal(error.code, ErrorCodes.UNAUTHORIZED)
    assert.equal(error.status, 401)
    assert.match(
      error.message,
      /^The service 'users', the only receiver of 'users\.create', refused it for ExoCom's token \(401\): start ExoCom and every relay with the same EXOCOM_TOKEN/,
    )
  })

  test('a request without the token from another client, while the bus checks tokens, is no mismatch', async (t) => {
    const busLog = new RecordingLogger()
    const bus = await startExoCom({ port: 0, logger: busLog, token: TOKEN })
    t.after(() => bus.close())
    const log = new RecordingLogger()
    const users = new ExoRelay({
      serviceName: 'users',
      exocomPort: bus.port,
      port: 0,
      logger: log,
      token: TOKEN,
    })
    t.after(() => users.close())
    const errors: ExoRelayError[] = []
    users.on('error', (error) => errors.push(error))
    const port = await users.listen()

    // Any local process can do this.
    const stray = await fetch(`http://127.0.0.1:${port}/run/users.create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"id":"x"}',
      signal: AbortSignal.timeout(DEADLINE),
    })
    assert.equal(stray.status, 401)
    // The relay asks the bus whether it takes requests without a token: the bus says no (401).
    await busLog.waitFor((entry) => entry.fields.url === '/exorelay/token-probe', {
      timeout: DEADLINE,
    })
    // A round trip through the bus after that answer.
    await users.send('users.ping', {}, { reply: false, timeout: DEADLINE }).catch(() => {})

    assert.deepEqual(errors, [])
    assert.deepEqual(errorLines(log), [])
    assert.equal(users.status().bus, 'reachable')
    assert.equal(await statusRoute(port, 'bus'), 'reachable')
  })

  test("with the same token on both sides there is no error and the status says 'reachable'", async (t) => {
    const { relay } = await landscape(t, { token: TOKEN })
    const users = relay('users', { token: TOKEN })
    const web = relay('web', { token: TOKEN })
    users.relay.registerHandler('users.create', (user, { reply }) => reply('users.created', user))
    const port = await users.relay.listen()
    await web.relay.listen()

    assert.deepEqual(
      await web.relay.send('users.create', { name: 'Will' }, { timeout: DEADLINE }),
      {
        name: 'Will',
      },
    )

    for (const { relay: each, errors, log } of [users, web]) {
      assert.deepEqual(errors, [])
      assert.deepEqual(errorLines(log), [])
      assert.equal(each.status().bus, 'reachable')
      assert.equal(each.status().registered, true)
    }
    assert.equal(await statusRoute(port, 'bus'), 'reachable')
  })
})

/** Resolves once `count` deliveries were refused for the token, or fails at the deadline. */
async function waitForRefusals(log: RecordingLogger, count: number): Promise<void> {
  let seen = 0
  await log.waitFor(
    (entry) => entry.message === 'request refused: missing or invalid token' && ++seen === count,
    { timeout: DEADLINE },
  )
}
