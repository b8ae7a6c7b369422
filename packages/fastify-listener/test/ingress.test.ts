import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type Envelope, ErrorCodes } from '@exorelay/core'
import { BATCH_ACCEPTED, type BatchResult, batchFailure } from '@exorelay/http-protocol'
import Fastify from 'fastify'
import { type AnswerTexts, PHRASES } from '../src/answer.js'
import { addIngressRoutes, type IngressOptions } from '../src/ingress.js'

const SENTENCE_NAMES: AnswerTexts = {
  ...PHRASES,
  invalidName: (name, problem) => `Unknown message ${String(name)}: a message name ${problem}.`,
}

function ingress(options: Partial<IngressOptions> = {}) {
  const handled: Envelope[] = []
  const app = Fastify()
  addIngressRoutes(app, {
    prefix: '/send',
    bodyLimit: 1024,
    batches: true,
    unbatched: 'batch',
    texts: PHRASES,
    handle: (envelope) => {
      handled.push(envelope)
      return BATCH_ACCEPTED
    },
    ...options,
  })
  return { app, handled }
}

describe('addIngressRoutes', () => {
  test('hands each parsed message of a single or batch request to handle, under the prefix', async (t) => {
    const { app, handled } = ingress()
    t.after(() => app.close())

    const single = await app.inject({ method: 'POST', url: '/send/a%2Fb', payload: { id: '1' } })
    const batch = await app.inject({
      method: 'POST',
      url: '/send',
      payload: [{ name: 'x', id: '2' }, { id: '3' }],
    })

    assert.equal(single.statusCode, 200)
    assert.equal(single.body, '')
    assert.equal(batch.statusCode, 200)
    assert.deepEqual(batch.json(), [
      { status: 200 },
      { status: 404, code: ErrorCodes.UNKNOWN_MESSAGE, error: "unknown message: 'undefined'" },
    ])
    assert.deepEqual(
      handled.map((envelope) => [envelope.name, envelope.id]),
      [
        ['a/b', '1'],
        ['x', '2'],
      ],
    )
  })

  test('a refusal answers every request before its body is parsed', async (t) => {
    const closing = batchFailure(503, ErrorCodes.BUS_CLOSING, 'closing')
    const { app, handled } = ingress({ refusal: (): BatchResult => closing })
    t.after(() => app.close())

    for (const [url, payload] of [
      ['/send/x', { no: 'id' }],
      ['/send', 'not a batch'],
    ] as const) {
      const response = await app.inject({
        method: 'POST',
        url,
        payload: JSON.stringify(payload),
        headers: { 'content-type': 'application/json' },
      })
      assert.equal(response.statusCode, 503, url)
      assert.equal(response.headers['exorelay-error-code'], ErrorCodes.BUS_CLOSING)
      assert.equal(response.body, 'closing')
    }
    assert.equal(handled.length, 0)
  })

  test("a side's own text for a bad name is used on both routes", async (t) => {
    const { app } = ingress({ texts: SENTENCE_NAMES })
    t.after(() => app.close())

    const batch = await app.inject({
      method: 'POST',
      url: '/send',
      payload: [{ id: '1', name: 7 }],
    })

    const single = await app.inject({ method: 'POST', url: '/send/', payload: { id: '1' } })

    assert.equal(single.statusCode, 404)
    assert.equal(single.body, 'Unknown message : a message name must not be empty.')
    assert.deepEqual(batch.json(), [
      {
        status: 404,
        code: ErrorCodes.UNKNOWN_MESSAGE,
        error: 'Unknown message 7: a message name must be a string, got number 7.',
      },
    ])
  })

  test("without batches, 'batch' adds no batch route and 'single' answers as a nameless message", async (t) => {
    const bus = ingress({ batches: false })
    const relay = ingress({ batches: false, unbatched: 'single', prefix: '/run' })
    t.after(() => Promise.all([bus.app.close(), relay.app.close()]))

    const toBus = await bus.app.inject({
      method: 'POST',
      url: '/send',
      payload: [{ id: '1', name: 'x' }],
    })
    const toRelay = await relay.app.inject({
      method: 'POST',
      url: '/run',
      payload: [{ id: '1', name: 'x' }],
    })

    // Fastify's own 404: the bus's not-found handler answers it in the bus's app.
    assert.equal(toBus.statusCode, 404)
    assert.equal(toBus.headers['exorelay-error-code'], undefined)
    assert.equal(toRelay.statusCode, 404)
    assert.equal(toRelay.body, "unknown message: ''")
    assert.equal(bus.handled.length + relay.handled.length, 0)
  })
})
