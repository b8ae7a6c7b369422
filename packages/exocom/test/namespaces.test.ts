// The original ExoCom's "translating a message" and "translating a reply" scenarios (issue 13):
// the orchestrator writes each service's `sends` and `receives` as its own service.yml lists
// them, in internal names for a service with an internal namespace, and `internalNamespace: ''`
// for a service without one. Real bus, real HTTP receivers, exact paths and log lines.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { RecordingLogger } from '@exorelay/testing'
import {
  type Receiver,
  request,
  send,
  shownWithOneInstance,
  startBus,
  startReceiver,
} from './helpers.js'

// Every wait of this file ends within this many milliseconds.
const DEADLINE = 5_000

/** The console line logged for message `id`, once its delivery to `receiver` was answered. */
async function lineOf(
  log: RecordingLogger,
  id: string,
  receiver: string,
): Promise<string | undefined> {
  const entry = await log.waitFor(
    (e) => e.level === 'info' && e.fields.messageId === id && e.fields.receiver === receiver,
    { timeout: DEADLINE },
  )
  return entry.message
}

/** The orchestrator's shape: `tweets` lists its messages in its own (internal) names. */
function tweetsEntry(service: Receiver, receives = ['text-snippet.create']) {
  return {
    name: 'tweets',
    internalNamespace: 'text-snippets',
    host: 'localhost',
    port: service.port,
    sends: ['text-snippet.created'],
    receives,
  }
}

function webEntry(service: Receiver, receives = ['tweets.created']) {
  return {
    name: 'web',
    internalNamespace: '',
    host: '127.0.0.1',
    port: service.port,
    sends: ['tweets.create'],
    receives,
  }
}

describe('POST /services in the original orchestrator shape', () => {
  test("accepts internalNamespace '' as none, and a service's sends and receives in its own names", async (t) => {
    const tweets = await startReceiver(t, 'tweets')
    const web = await startReceiver(t, 'web')
    const { exocom } = await startBus(t)

    const answer = await request(exocom, 'POST', '/services', [tweetsEntry(tweets), webEntry(web)])

    assert.deepEqual({ status: answer.status, text: answer.text }, { status: 200, text: '' })
    const { services } = exocom.config()
    assert.equal(services.web?.internalNamespace, undefined)
    assert.ok(!Object.hasOwn(services.web ?? {}, 'internalNamespace'))
    assert.equal(services.tweets?.internalNamespace, 'text-snippets')
  })

  test('GET /config.json shows the routes in public names', async (t) => {
    const tweets = await startReceiver(t, 'tweets')
    const web = await startReceiver(t, 'web')
    const { exocom } = await startBus(t)
    await request(exocom, 'POST', '/services', [tweetsEntry(tweets), webEntry(web)])

    const answer = await request(exocom, 'GET', '/config.json')

    const tweetsService = shownWithOneInstance({
      name: 'tweets',
      host: 'localhost',
      port: tweets.port,
      internalNamespace: 'text-snippets',
      source: 'configured',
    })
    const webService = shownWithOneInstance({
      name: 'web',
      host: '127.0.0.1',
      port: web.port,
      source: 'configured',
    })
    assert.equal(answer.status, 200)
    assert.deepEqual(JSON.parse(answer.text), {
      services: { tweets: tweetsService, web: webService },
      routes: {
        'tweets.create': { receivers: [tweetsService] },
        'tweets.created': { receivers: [webService] },
      },
    })
  })

  test('internalNamespace null or absent means none too; one with a dot is still refused', async (t) => {
    const web = await startReceiver(t, 'web')
    const { exocom } = await startBus(t)
    const { internalNamespace: _, ...absent } = webEntry(web)

    assert.equal((await request(exocom, 'POST', '/services', [absent])).status, 200)
    const withNull = { ...webEntry(web), internalNamespace: null }
    assert.equal((await request(exocom, 'POST', '/services', [withNull])).status, 200)
    assert.equal(exocom.config().services.web?.internalNamespace, undefined)
    const dotted = { ...webEntry(web), internalNamespace: 'a.b' }
    const refused = await request(exocom, 'POST', '/services', [dotted])
    assert.equal(refused.status, 400)
    assert.match(refused.text, /Service entry 0 \('web'\) has an 'internalNamespace'.*'a\.b'/)
  })

  test('setServices and PUT /services/<name> take the same shape', async (t) => {
    const tweets = await startReceiver(t, 'tweets')
    const web = await startReceiver(t, 'web')
    const { exocom, log } = await startBus(t)
    exocom.setServices([webEntry(web)])

    const put = await request(exocom, 'PUT', '/services/tweets', tweetsEntry(tweets))

    assert.equal(put.status, 200)
    assert.deepEqual(Object.keys(exocom.config().routes), ['tweets.created', 'tweets.create'])
    await send(exocom, 'tweets.create', { sender: 'web', id: 'put-1' })
    const [run] = await tweets.waitForRuns(1)
    assert.equal(run?.url, '/run/text-snippets.create')
    assert.equal(
      await lineOf(log, 'put-1', 'tweets'),
      'web  --[ tweets.create ]-[ text-snippets.create ]->  tweets',
    )
  })
})

describe('translating a message and a reply', () => {
  test('tweets.create reaches the namespaced service as text-snippets.create', async (t) => {
    const tweets = await startReceiver(t, 'tweets')
    const web = await startReceiver(t, 'web')
    const { exocom, log } = await startBus(t)
    await request(exocom, 'POST', '/services', [tweetsEntry(tweets), webEntry(web)])

    const answer = await send(exocom, 'tweets.create', {
      sender: 'web',
      id: 'm-1',
      payload: { text: 'hello' },
    })

    assert.equal(answer.status, 200)
    const [run] = await tweets.waitForRuns(1)
    assert.deepEqual(run && { url: run.url, body: run.body }, {
      url: '/run/text-snippets.create',
      body: { id: 'm-1', payload: { text: 'hello' } },
    })
    assert.equal(
      await lineOf(log, 'm-1', 'tweets'),
      'web  --[ tweets.create ]-[ text-snippets.create ]->  tweets',
    )
    assert.equal(web.runs.length, 0)
  })

  test('a reply text-snippets.created leaves the bus as tweets.created, and its log line shows both', async (t) => {
    const tweets = await startReceiver(t, 'tweets')
    const web = await startReceiver(t, 'web')
    const { exocom, log } = await startBus(t)
    await request(exocom, 'POST', '/services', [tweetsEntry(tweets), webEntry(web)])
    await send(exocom, 'tweets.create', { sender: 'web', id: 'm-2' })
    await tweets.waitForRuns(1)

    const answer = await send(exocom, 'text-snippets.created', {
      sender: 'tweets',
      id: 'r-2',
      responseTo: 'm-2',
      payload: { id: 7 },
    })

    assert.equal(answer.status, 200)
    const [run] = await web.waitForRuns(1)
    assert.deepEqual(run && { url: run.url, body: run.body }, {
      url: '/run/tweets.created',
      body: { id: 'r-2', responseTo: 'm-2', payload: { id: 7 } },
    })
    assert.equal(
      await lineOf(log, 'r-2', 'web'),
      'tweets  --[ text-snippets.created ]-[ tweets.created ]->  web',
    )
  })

  test('fan-out: every receiver gets the message under its own name, both ways', async (t) => {
    const tweets = await startReceiver(t, 'tweets')
    const web = await startReceiver(t, 'web')
    const audit = await startReceiver(t, 'audit')
    const { exocom, log } = await startBus(t)
    await request(exocom, 'POST', '/services', [
      tweetsEntry(tweets),
      webEntry(web),
      {
        name: 'audit',
        internalNamespace: '',
        host: '127.0.0.1',
        port: audit.port,
        sends: [],
        receives: ['tweets.create', 'tweets.created'],
      },
    ])

    await send(exocom, 'tweets.create', { sender: 'web', id: 'f-1' })
    const [toTweets] = await tweets.waitForRuns(1)
    assert.equal(toTweets?.url, '/run/text-snippets.create')
    const [toAudit] = await audit.waitForRuns(1)
    assert.equal(toAudit?.url, '/run/tweets.create')
    assert.equal(
      await lineOf(log, 'f-1', 'tweets'),
      'web  --[ tweets.create ]-[ text-snippets.create ]->  tweets',
    )
    assert.equal(await lineOf(log, 'f-1', 'audit'), 'web  --[ tweets.create ]->  audit')

    await send(exocom, 'text-snippets.created', { sender: 'tweets', id: 'f-2', responseTo: 'f-1' })
    const [toWeb] = await web.waitForRuns(1)
    assert.equal(toWeb?.url, '/run/tweets.created')
    const audited = await audit.waitForRuns(2)
    assert.equal(audited[1]?.url, '/run/tweets.created')
    assert.equal(
      await lineOf(log, 'f-2', 'web'),
      'tweets  --[ text-snippets.created ]-[ tweets.created ]->  web',
    )
    assert.equal(
      await lineOf(log, 'f-2', 'audit'),
      'tweets  --[ text-snippets.created ]-[ tweets.created ]->  audit',
    )
  })

  test('names that already use the public service name keep working', async (t) => {
    const tweets = await startReceiver(t, 'tweets')
    const web = await startReceiver(t, 'web')
    const { exocom, log } = await startBus(t)
    await request(exocom, 'POST', '/services', [
      tweetsEntry(tweets, ['tweets.create', 'text-snippet.create']),
      webEntry(web),
    ])

    await send(exocom, 'tweets.create', { sender: 'web', id: 'p-1' })
    // Listed in both forms, still delivered once.
    const [run] = await tweets.waitForRuns(1)
    assert.equal(run?.url, '/run/text-snippets.create')
    await send(exocom, 'tweets.created', { sender: 'tweets', id: 'p-2', responseTo: 'p-1' })

    const [reply] = await web.waitForRuns(1)
    assert.equal(reply?.url, '/run/tweets.created')
    assert.equal(await lineOf(log, 'p-2', 'web'), 'tweets  --[ tweets.created ]->  web')
    assert.equal(tweets.runs.length, 1)
  })

  test('three-part names keep their tail both ways', async (t) => {
    const tweets = await startReceiver(t, 'tweets')
    const web = await startReceiver(t, 'web')
    const { exocom, log } = await startBus(t)
    await request(exocom, 'POST', '/services', [
      tweetsEntry(tweets, ['text-snippet.create.now']),
      webEntry(web, ['tweets.created.now']),
    ])

    await send(exocom, 'tweets.create.now', { sender: 'web', id: 't-1' })
    const [run] = await tweets.waitForRuns(1)
    assert.equal(run?.url, '/run/text-snippets.create.now')
    assert.equal(
      await lineOf(log, 't-1', 'tweets'),
      'web  --[ tweets.create.now ]-[ text-snippets.create.now ]->  tweets',
    )

    await send(exocom, 'text-snippets.created.now', { sender: 'tweets', id: 't-2' })
    const [reply] = await web.waitForRuns(1)
    assert.equal(reply?.url, '/run/tweets.created.now')
    assert.equal(
      await lineOf(log, 't-2', 'web'),
      'tweets  --[ text-snippets.created.now ]-[ tweets.created.now ]->  web',
    )
  })
})
