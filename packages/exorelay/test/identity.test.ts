import assert from 'node:assert/strict'
import { once } from 'node:events'
import { describe, test } from 'node:test'
import { withDeadline } from '@exorelay/testing'
import { ErrorCodes, type ExoRelayError } from '../src/index.js'
import { DEADLINE, errorLines, landscape } from './auth-landscape.js'

// Case 5 of issue 14, end to end: real relays, each configured with its own token as `token`
// (EXOCOM_TOKEN), through a bus in identity mode (decision 0018). A relay needs nothing new:
// it sends with its token, and the bus delivers to it with the same token.

const CREDENTIALS = {
  operator: 'operator-token-0f3a',
  services: { users: 'users-token-8c21', web: 'web-token-47be' },
}

describe('identity mode end to end', () => {
  test('a request and its reply, and a fire-and-forget message, go through with a token per service', async (t) => {
    const { relay } = await landscape(t, { credentials: CREDENTIALS })
    const users = relay('users', { token: CREDENTIALS.services.users })
    const web = relay('web', { token: CREDENTIALS.services.web })
    const greeted: unknown[] = []
    let greetedNow: () => void = () => {}
    const greeting = new Promise<void>((resolve) => {
      greetedNow = resolve
    })
    users.relay.registerHandler('users.create', (user: { name: string }, { reply }) =>
      reply('users.created', { id: 1, name: user.name }),
    )
    users.relay.registerHandler('users.greet', (payload) => {
      greeted.push(payload)
      greetedNow()
    })
    await users.relay.listen()
    await web.relay.listen()

    const created = await web.relay.send('users.create', { name: 'Will' }, { timeout: DEADLINE })
    web.relay.send('users.greet', { name: 'Deanna' }, { reply: false })
    await withDeadline(greeting, DEADLINE, () => 'users got no users.greet')

    assert.deepEqual(created, { id: 1, name: 'Will' })
    assert.deepEqual(greeted, [{ name: 'Deanna' }])
    assert.equal(users.relay.status().registered, true)
    assert.equal(web.relay.status().bus, 'reachable')
    assert.deepEqual([...users.errors, ...web.errors], [])
  })

  test('a relay with the operator token under a name without credentials (a test driver) gets its replies', async (t) => {
    const { relay } = await landscape(t, { credentials: CREDENTIALS })
    const users = relay('users', { token: CREDENTIALS.services.users })
    // Not in the credentials file: only the operator's token may register it.
    const tester = relay('tester', { token: CREDENTIALS.operator })
    users.relay.registerHandler('users.create', (user: { name: string }, { reply }) =>
      reply('users.created', { id: 2, name: user.name }),
    )
    await users.relay.listen()
    await tester.relay.listen()

    const created = await tester.relay.send('users.create', { name: 'Q' }, { timeout: DEADLINE })

    assert.deepEqual(created, { id: 2, name: 'Q' })
    assert.equal(tester.relay.status().registered, true)
    assert.deepEqual([...users.errors, ...tester.errors], [])
    assert.deepEqual(tester.log.at('warn'), [])
  })

  test('a relay with a token the bus in identity mode does not know logs one line that names per-service credentials, and no warning', async (t) => {
    const { relay } = await landscape(t, { credentials: CREDENTIALS })
    const stranger = relay('users', { token: 'not-a-known-token' })
    const refused = once(stranger.relay, 'error', { signal: AbortSignal.timeout(DEADLINE) })
    await stranger.relay.listen()
    const [error] = (await refused) as [ExoRelayError]

    const sent = await stranger.relay
      .send('users.created', {}, { timeout: DEADLINE })
      .catch((e) => e)
    // The retry after the refusal: it must not log again.
    await stranger.log.waitFor(
      (entry) => entry.message?.startsWith('ExoCom still refuses the token') === true,
      {
        timeout: DEADLINE,
      },
    )

    assert.equal(error.code, ErrorCodes.UNAUTHORIZED)
    assert.match(
      error.message,
      /when ExoCom has per-service credentials \(--credentials\), this service's token from its credentials file/,
    )
    assert.equal(sent.code, ErrorCodes.BUS_REFUSED)
    // The bus's 401 says what it takes.
    assert.match(
      sent.message,
      /answered 401: missing or invalid token: this bus takes a token per service/,
    )
    assert.deepEqual(errorLines(stranger.log), [[ErrorCodes.UNAUTHORIZED, error.message]])
    assert.deepEqual(stranger.log.at('warn'), [])
  })

  test('a relay registering under a name its token does not hold emits FORBIDDEN once, logs the fix at error once, and its sends reject with FORBIDDEN', async (t) => {
    const { relay } = await landscape(t, { credentials: CREDENTIALS })
    // The token of web, the name of users: a copy-paste mistake, or an impostor.
    const impostor = relay('users', { token: CREDENTIALS.services.web, registerInterval: 100 })
    impostor.relay.registerHandler('users.create', () => {})
    const refused = once(impostor.relay, 'error', { signal: AbortSignal.timeout(DEADLINE) })
    await impostor.relay.listen()
    const [error] = (await refused) as [ExoRelayError & { status?: number }]

    await assert.rejects(impostor.relay.send('users.created', {}, { timeout: DEADLINE }), {
      code: ErrorCodes.FORBIDDEN,
      status: 403,
      message: /names the sender 'users', but its credential is that of the service 'web'/,
    })
    // After a 403 the relay tries once more after registerInterval (100 ms), then every 5 s:
    // the second refusal, which the relay takes quietly, is what the assertions below are about.
    await impostor.log.waitFor(
      (entry) => entry.message === 'ExoCom still refuses the registration',
      {
        timeout: DEADLINE,
      },
    )

    assert.equal(error.code, ErrorCodes.FORBIDDEN)
    assert.equal(error.status, 403)
    assert.match(error.message, /The credential of the service 'web' may not register 'users'/)
    assert.deepEqual(impostor.errors, [error])
    const lines = errorLines(impostor.log)
    assert.equal(lines.length, 1)
    assert.equal(lines[0]?.[0], ErrorCodes.FORBIDDEN)
    // The bus's sentence whole, fix included, and no advice of the relay's beside it.
    assert.match(
      lines[0]?.[1] ?? '',
      /may not register 'users': a service registers and withdraws only itself\. Use the token of 'users', or the operator's\.\)\. The bus does not route to this service until it takes the registration\.$/,
    )
    assert.equal(impostor.relay.status().registered, false)
  })
})
