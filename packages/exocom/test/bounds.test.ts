import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ErrorCodes, MAX_SERVICE_NAME_LENGTH } from '@exorelay/core'
import { openRawConnection } from '@exorelay/testing'
import { MAX_NAMES_PER_SERVICE } from '../src/routing-table.js'
import { request, send, serviceOf, startBus, startReceiver, withDeadline } from './helpers.js'

// Issue 14: nothing a client sends may grow the bus without bound, and one bad registration
// may not break the traffic of others.

describe('what a client can make the bus hold is bounded', () => {
  test('a sender longer than a service name is refused with 400 before anything is kept', async (t) => {
    const { exocom, log } = await startBus(t)
    const ping = await startReceiver(t, 'ping')
    await request(exocom, 'POST', '/services', [serviceOf(ping, ['ping'])])

    // The attack of the issue: 800,000 characters, which the bus used to keep per message id.
    const answer = await send(exocom, 'ping', { sender: 'x'.repeat(800_000), id: 'm-1' })

    assert.equal(answer.status, 400)
    assert.equal(answer.code, ErrorCodes.INVALID_MESSAGE)
    assert.match(answer.text, /sender must be a service name of at most 256 characters/)
    assert.ok(answer.text.length < 400, 'the answer quotes the sender whole')
    assert.equal(ping.runs.length, 0)
    // Every log line of it is short too.
    assert.ok(log.entries.every((entry) => JSON.stringify(entry.fields).length < 2000))
    // The longest allowed sender still works.
    const longest = 's'.repeat(MAX_SERVICE_NAME_LENGTH)
    assert.equal((await send(exocom, 'ping', { sender: longest, id: 'm-2' })).status, 200)
  })

  test('a registration with a name, a list or a body past its limit is refused with 400 or 413, and the table stays', async (t) => {
    const { exocom } = await startBus(t)
    const users = await startReceiver(t, 'users')
    const put = (name: string, body: unknown) =>
      request(exocom, 'PUT', `/services/${encodeURIComponent(name)}`, body)

    const namespaced = await put('users', {
      ...serviceOf(users, ['x.a']),
      internalNamespace: 'n'.repeat(MAX_SERVICE_NAME_LENGTH + 1),
    })
    assert.equal(namespaced.status, 400)
    assert.match(
      namespaced.text,
      /'internalNamespace' that is neither a name without dots of at most 256/,
    )

    const slow = await put('users', { ...serviceOf(users, []), registerInterval: 60_001 })
    assert.equal(slow.status, 400)
    assert.match(
      slow.text,
      /'registerInterval' that is not a whole number of milliseconds from 1 to 60000/,
    )

    const longName = 'n'.repeat(MAX_SERVICE_NAME_LENGTH + 1)
    const named = await put(longName, { ...serviceOf(users, []), name: longName })
    assert.equal(named.status, 400)
    assert.match(named.text, /needs a 'name' that is a string of 1 to 256 characters/)

    const names = Array.from({ length: MAX_NAMES_PER_SERVICE + 1 }, (_, i) => `users.n${i}`)
    const listed = await put('users', serviceOf(users, names))
    assert.equal(listed.status, 400)
    assert.match(
      listed.text,
      /lists 1001 names in 'receives', more than the 1000 a service may list/,
    )

    // 300 KiB of names, each of them valid.
    const huge = Array.from({ length: 600 }, (_, i) => `users.${'x'.repeat(500)}${i}`)
    const big = await put('users', serviceOf(users, huge))
    assert.equal(big.status, 413)
    assert.match(big.text, /larger than the limit of 262144 bytes/)

    assert.deepEqual(exocom.config().services, {})
  })

  test('the bus holds at most maxServices services, and says which option raises it', async (t) => {
    const { exocom } = await startBus(t, { maxServices: 2 })
    const users = await startReceiver(t, 'users')
    for (const name of ['a', 'b']) {
      const answer = await request(exocom, 'PUT', `/services/${name}`, {
        ...serviceOf(users, []),
        name,
      })
      assert.equal(answer.status, 200)
    }

    const third = await request(exocom, 'PUT', '/services/c', {
      ...serviceOf(users, []),
      name: 'c',
    })
    const table = await request(exocom, 'POST', '/services', [
      { ...serviceOf(users, []), name: 'x' },
      { ...serviceOf(users, []), name: 'y' },
      { ...serviceOf(users, []), name: 'z' },
    ])

    assert.equal(third.status, 400)
    assert.equal(third.code, ErrorCodes.BUS_INVALID_REGISTRATION)
    assert.match(
      third.text,
      /holds 2 services already \(each instance counts\), its limit \(maxServices\)/,
    )
    assert.equal(table.status, 400)
    assert.match(table.text, /lists 3 services .*more than ExoCom's limit of 2 \(maxServices\)/)
    // A service already in the table may still register again.
    const again = await request(exocom, 'PUT', '/services/a', {
      ...serviceOf(users, ['a.x']),
      name: 'a',
    })
    assert.equal(again.status, 200)
    assert.deepEqual(Object.keys(exocom.config().services), ['a', 'b'])
  })

  test('beyond maxConnections a new connection is closed at once, and the bus serves again once one ends', async (t) => {
    const { exocom } = await startBus(t, { maxConnections: 2 })
    const open = () =>
      withDeadline(
        openRawConnection(exocom.port, { signal: t.signal }),
        5_000,
        () => 'a connection to the bus did not open',
      )
    const held = [await open(), await open()]

    const third = await open()
    third.socket.write('GET /status HTTP/1.1\r\nhost: x\r\n\r\n')
    const written = await withDeadline(
      third.closed,
      5_000,
      () => 'the connection past maxConnections was not closed',
    )
    assert.equal(written, '', 'the connection past the limit was answered')

    held[0]!.socket.destroy()
    // Once the bus has seen one end, a new client is served.
    const status = await withDeadline(
      (async () => {
        for (;;) {
          const answer = await fetch(`${exocom.url}/status`).catch(() => undefined)
          if (answer !== undefined) return answer.status
          await new Promise((resolve) => setImmediate(resolve))
        }
      })(),
      5_000,
      () => 'the bus did not serve again after a held connection ended',
    )
    assert.equal(status, 200)
  })
})

describe('one bad registration breaks nothing else', () => {
  for (const host of [
    'reports:4000',
    'a b',
    '[::1',
    '[::1]',
    'x\r\ny',
    'http://x',
    '',
    // What a URL would not take, or would read as another address.
    '999.1.1.1',
    '256.256.256.256',
    '1.2.3',
    '0x7f.1',
    '2130706433',
    'fe80::1%eth0',
  ]) {
    test(`a host of ${JSON.stringify(host)} is refused with 400 naming the fix`, async (t) => {
      const { exocom } = await startBus(t)
      const reports = await startReceiver(t, 'reports')

      const answer = await request(exocom, 'PUT', '/services/reports', {
        ...serviceOf(reports, ['orders.create']),
        host,
      })

      assert.equal(answer.status, 400)
      assert.equal(answer.code, ErrorCodes.BUS_INVALID_REGISTRATION)
      assert.match(answer.text, /needs a 'host' that is a host name or an IP address/)
      assert.match(answer.text, /without a port, scheme or brackets/)
      assert.deepEqual(exocom.config().services, {})
    })
  }

  test('host names and IP literals are taken', async (t) => {
    const { exocom } = await startBus(t)
    const users = await startReceiver(t, 'users')
    for (const host of ['localhost', 'users.internal', 'app_web_1', '10.0.0.7', '::1']) {
      const answer = await request(exocom, 'PUT', '/services/users', {
        ...serviceOf(users, []),
        host,
      })
      assert.equal(answer.status, 200, host)
    }
  })
})
