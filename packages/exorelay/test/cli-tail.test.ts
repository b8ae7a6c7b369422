import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, test } from 'node:test'
import { startExoCom } from '@exorelay/exocom'
import { deferred, withDeadline } from '@exorelay/testing'
import { formatEvent } from '../src/cli-tail.js'
import { closedPort, lineReader, runCli, startCli, startLandscape } from './cli-helpers.js'

// `exorelay tail` against a stream written here in the documented shape of the bus's
// `GET /events` (docs/reference/exocom.md), so that each line shape, the filter and the ends
// of a tail are tested on their own; the last test runs it against the bus itself.

const TIME = /^\d\d:\d\d:\d\d\.\d{3} {2}/

/** A server with one `GET /events` stream the test writes to, closed after the test. */
async function eventsServer(t: { after(fn: () => unknown): void }) {
  const connected = deferred<{ request: IncomingMessage; response: ServerResponse }>()
  const server = createServer((request, response) => {
    if (request.url !== '/events') {
      response.writeHead(404).end()
      return
    }
    response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' })
    response.flushHeaders()
    connected.resolve({ request, response })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  let id = 0
  return {
    port: String((server.address() as AddressInfo).port),
    /** The stream once the tail connected. */
    async stream() {
      const { request, response } = await withDeadline(
        connected.promise,
        30_000,
        () => 'exorelay tail did not connect',
      )
      return {
        request,
        end: () => response.end(),
        /** Writes one event in the bus's framing. */
        send(event: Record<string, unknown>) {
          id += 1
          response.write(`event: ${event.type}\nid: ${id}\ndata: ${JSON.stringify(event)}\n\n`)
        },
        raw: (text: string) => response.write(text),
      }
    },
  }
}

const hello = { type: 'hello', time: '2026-12-06T10:00:00.000Z', version: '0.1.0' }
const delivered = {
  type: 'delivery',
  time: '2026-12-06T10:00:01.234Z',
  id: 'm1',
  name: 'users.create',
  sender: 'web',
  receiver: 'users',
  outcome: 'delivered',
  status: 200,
  durationMs: 1.25,
}

describe('exorelay tail', () => {
  test('one line per delivery in the bus’s shape, with time and duration; services on their own lines', async (t) => {
    const bus = await eventsServer(t)
    const tail = startCli(['tail', '--port', bus.port])
    t.after(() => tail.kill('SIGKILL'))
    const nextLine = lineReader(tail)
    const stream = await bus.stream()

    stream.send(hello)
    stream.raw(': keep-alive\n\n')
    stream.send({
      type: 'message',
      time: hello.time,
      id: 'm1',
      name: 'users.create',
      sender: 'web',
      receivers: ['users'],
      size: 2,
    })
    stream.send(delivered)
    stream.send({
      ...delivered,
      name: 'tweets.create',
      internalName: 'text-snippets.create',
      receiver: 'tweets',
    })
    stream.send({
      ...delivered,
      name: 'orders.create',
      receiver: null,
      outcome: 'no-receiver',
      status: 404,
      durationMs: 0.3,
    })
    stream.send({
      ...delivered,
      receiver: 'users',
      outcome: 'refused',
      status: 503,
      durationMs: 2,
      error: { code: 'EXORELAY_ERR_RELAY_OVERLOADED', message: 'busy' },
    })
    stream.send({
      ...delivered,
      name: '__error',
      sender: 'users',
      receiver: 'web',
      responseTo: 'm1',
    })
    stream.raw('event: delivery\ndata: {not json\n\n')
    stream.send({
      type: 'service',
      time: hello.time,
      service: 'users',
      change: 'registered',
      host: '127.0.0.1',
      port: 4001,
    })
    stream.send({ type: 'service', time: hello.time, service: 'users', change: 'dropped' })
    stream.send({ ...delivered, sender: 'evil\u001b[2J' })

    const expected = [
      'web  --[ users.create ]->  users  1.3 ms',
      'web  --[ tweets.create ]-[ text-snippets.create ]->  tweets  1.3 ms',
      'web  --[ orders.create ]->  (no receiver)  0.3 ms  no-receiver 404',
      'web  --[ users.create ]->  users  2.0 ms  refused 503: busy',
      'users  --[ __error ]->  web  1.3 ms  (error reply)',
      'users registered at 127.0.0.1:4001',
      'users dropped',
      'evil\\u001b[2J  --[ users.create ]->  users  1.3 ms',
    ]
    for (const text of expected) {
      const line = await nextLine(text)
      assert.match(line, TIME)
      assert.equal(line.replace(TIME, ''), text)
    }
  })

  test('--json prints each event object as one line; patterns match names and services', async (t) => {
    const bus = await eventsServer(t)
    const tail = startCli(['tail', 'users*', '*.created', '--json', '--port', bus.port])
    t.after(() => tail.kill('SIGKILL'))
    const nextLine = lineReader(tail)
    const stream = await bus.stream()

    const orders = { ...delivered, name: 'orders.create', receiver: 'orders' }
    const created = { ...delivered, name: 'orders.created', sender: 'orders', receiver: 'web' }
    const service = { type: 'service', time: hello.time, service: 'users', change: 'withdrawn' }
    for (const event of [hello, orders, delivered, created, service]) stream.send(event)

    for (const event of [hello, delivered, created, service]) {
      assert.deepEqual(JSON.parse(await nextLine(String(event.type))), event)
    }
  })

  test('Ctrl-C ends it with exit 0; it sends the token', async (t) => {
    const bus = await eventsServer(t)
    const tail = startCli(['tail', '--port', bus.port], { EXOCOM_TOKEN: 'sesame' })
    t.after(() => tail.kill('SIGKILL'))
    let stderr = ''
    tail.stderr!.on('data', (chunk) => {
      stderr += chunk
    })
    const stream = await bus.stream()
    assert.equal(stream.request.headers.authorization, 'Bearer sesame')
    assert.equal(stream.request.headers.accept, 'text/event-stream')
    stream.send(hello)
    const nextLine = lineReader(tail)
    stream.send(delivered)
    await nextLine('the delivery')

    tail.kill('SIGINT')
    const [code] = await withDeadline(once(tail, 'close'), 30_000, () => 'tail did not end')
    assert.equal(code, 0)
    assert.equal(
      stderr,
      `exorelay tail: following ExoCom 0.1.0 at http://localhost:${bus.port}; Ctrl-C stops.\n`,
    )
  })

  test('a bus that ends the stream: one line, exit 1', async (t) => {
    const bus = await eventsServer(t)
    const tail = startCli(['tail', '--port', bus.port])
    t.after(() => tail.kill('SIGKILL'))
    let stderr = ''
    tail.stderr!.on('data', (chunk) => {
      stderr += chunk
    })
    const stream = await bus.stream()
    stream.end()

    const [code] = await withDeadline(once(tail, 'close'), 30_000, () => 'tail did not end')
    assert.equal(code, 1)
    assert.equal(
      stderr,
      `exorelay tail: EXORELAY_ERR_TRANSPORT_BUS_UNREACHABLE: ExoCom at http://localhost:${bus.port} ended the event stream: it stopped, or dropped this reader for falling behind. Run exorelay tail again once the bus runs.\n`,
    )
  })

  test('a bus that is not there: BUS_UNREACHABLE in one line, exit 1', async () => {
    const run = await runCli(['tail', '--port', await closedPort()])
    assert.equal(run.code, 1)
    assert.match(
      run.stderr,
      /^exorelay tail: EXORELAY_ERR_TRANSPORT_BUS_UNREACHABLE: ExoCom at .* is unreachable: /,
    )
    assert.equal(run.stderr.split('\n').length, 2, 'one line')
  })

  test('a bus without the stream (404): BUS_REFUSED saying the bus runs without one, exit 1', async (t) => {
    const bus = await startExoCom({ port: 0, logger: false, events: false })
    t.after(() => bus.close())

    const run = await runCli(['tail', '--port', String(bus.port)])

    assert.equal(run.code, 1)
    assert.equal(
      run.stderr,
      `exorelay tail: EXORELAY_ERR_TRANSPORT_BUS_REFUSED: ExoCom at http://localhost:${bus.port} serves no event stream (GET /events answered 404): it was started without one (exocom --no-events, or the events option false). Start it with its event stream, or point at another bus.\n`,
    )
  })

  test("the bus's own refusal keeps its code and its whole sentence: too many stream clients", async (t) => {
    const bus = await startExoCom({ port: 0, logger: false, maxEventClients: 1 })
    t.after(() => bus.close())
    const first = startCli(['tail', '--port', String(bus.port)])
    t.after(() => first.kill('SIGKILL'))
    const following = deferred<void>()
    first.stderr!.on('data', () => following.resolve())
    await withDeadline(
      following.promise,
      30_000,
      () => 'the first tail did not say it is following',
    )

    const run = await runCli(['tail', '--port', String(bus.port)])

    assert.equal(run.code, 1)
    assert.match(
      run.stderr,
      /^exorelay tail: EXORELAY_ERR_BUS_TOO_MANY_EVENT_CLIENTS: ExoCom at http:\/\/localhost:\d+: ExoCom has 1 clients on its event stream .* a higher maxEventClients\.\n$/,
    )
  })

  test('on a terminal with colours, failures are red, no receiver yellow, the time dim', () => {
    const red = '\u001b[31m'
    const yellow = '\u001b[33m'
    const dim = '\u001b[2m'
    const refused = formatEvent({ ...delivered, outcome: 'refused', status: 500 }, true)!
    assert.ok(refused.startsWith(dim), refused)
    assert.ok(
      refused.includes(`${red}web  --[ users.create ]->  users  1.3 ms  refused 500`),
      refused,
    )
    const errorReply = formatEvent({ ...delivered, name: '__error' }, true)!
    assert.ok(errorReply.includes(red), errorReply)
    const nobody = formatEvent({ ...delivered, receiver: null, outcome: 'no-receiver' }, true)!
    assert.ok(nobody.includes(yellow), nobody)
    assert.ok(!formatEvent(delivered, true)!.includes(red))
    assert.ok(!formatEvent(delivered, false)!.includes('\u001b'), 'no colour when told so')
  })

  test('against the bus: a service registering, a request, its reply, an error reply, no receiver', async (t) => {
    const { users, busPort } = await startLandscape(t)
    users.registerHandler('users.create', (_user, { reply }) => reply('users.created', { id: 1 }))
    users.registerHandler('users.fail', () => {
      throw new Error('nope')
    })
    const tail = startCli(['tail', '--port', busPort])
    t.after(() => tail.kill('SIGKILL'))
    const following = deferred<void>()
    tail.stderr!.on('data', () => following.resolve())
    await withDeadline(following.promise, 30_000, () => 'tail did not say it is following')
    const nextLine = lineReader(tail)
    const shown = async (what: string) => (await nextLine(what)).replace(TIME, '')

    await users.listen()
    assert.match(await shown('users registered'), /^users registered at 127\.0\.0\.1:\d+$/)

    // The lines of one request come from separate connections (the delivery's answer, the
    // reply's POST, cli's withdrawal), so their order is not fixed: each must be among them.
    const shownAmong = async (what: string, patterns: RegExp[]): Promise<void> => {
      const lines: string[] = []
      for (const pattern of patterns) lines.push(await shown(`${what}: ${pattern}`))
      for (const pattern of patterns) {
        assert.ok(
          lines.some((line) => pattern.test(line)),
          `${pattern} is not among:\n${lines.join('\n')}`,
        )
      }
    }
    assert.equal((await runCli(['request', 'users.create', '{}', '--port', busPort])).code, 0)
    await shownAmong('the request', [
      /^cli registered at 127\.0\.0\.1:\d+$/,
      /^cli {2}--\[ users\.create \]-> {2}users {2}\d+\.\d ms$/,
      /^users {2}--\[ users\.created \]-> {2}cli {2}\d+\.\d ms$/,
      /^cli withdrawn/,
    ])

    assert.equal((await runCli(['request', 'users.fail', '--port', busPort])).code, 1)
    await shownAmong('the failed request', [
      /^cli registered/,
      /^cli {2}--\[ users\.fail \]-> {2}users {2}\d+\.\d ms {2}refused 500: /,
      /^users {2}--\[ __error \]-> {2}cli {2}\d+\.\d ms {2}\(error reply\)$/,
      /^cli withdrawn/,
    ])

    assert.equal((await runCli(['send', 'nobody.there', '--port', busPort])).code, 1)
    assert.match(
      await shown('no receiver'),
      /^cli {2}--\[ nobody\.there \]-> {2}\(no receiver\) {2}\d+\.\d ms {2}no-receiver$/,
    )
  })
})
