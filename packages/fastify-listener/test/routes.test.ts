import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { inspect } from 'node:util'
import {
  ClosedError,
  ErrorCodes,
  HandlerError,
  type Logger,
  ProtocolError,
  type Receipt,
  type ReceivedMessage,
  type Receiver,
} from '@exorelay/core'
import { ERROR_CODE_HEADER } from '@exorelay/http-protocol'
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type LightMyRequestResponse,
} from 'fastify'
import { DEFAULT_BODY_LIMIT, exoRelayRoutes, type ListenerRoutesOptions } from '../src/routes.js'

const ACCEPTED: Receipt = { status: 'accepted' }

interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error'
  bindings: Record<string, unknown>
  message: string | undefined
}

function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = []
  const at =
    (level: LogLine['level']) =>
    (bindings: object, message?: string): void => {
      lines.push({ level, bindings: bindings as Record<string, unknown>, message })
    }
  const logger: Logger & { lines: LogLine[] } = {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  }
  return logger
}

/** A receiver that records what it got and answers `receipt`. */
function recordingReceiver(
  receipt: Receipt = ACCEPTED,
): Receiver & { received: ReceivedMessage[] } {
  const received: ReceivedMessage[] = []
  const receiver = (message: ReceivedMessage): Receipt => {
    received.push(message)
    return receipt
  }
  return Object.assign(receiver, { received })
}

async function appWith(
  options: Partial<ListenerRoutesOptions> & Pick<ListenerRoutesOptions, 'receiver'>,
): Promise<FastifyInstance> {
  const app = Fastify()
  app.register(exoRelayRoutes, options)
  await app.ready()
  return app
}

function post(app: FastifyInstance, url: string, body?: unknown): Promise<LightMyRequestResponse> {
  if (body === undefined) return app.inject({ method: 'POST', url })
  return app.inject({ method: 'POST', url, payload: body as object })
}

function postRaw(
  app: FastifyInstance,
  url: string,
  body: string,
  // null sends no content-type header (undefined would pick the default).
  contentType: string | null = 'application/json',
): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = {}
  if (contentType !== null) headers['content-type'] = contentType
  return app.inject({ method: 'POST', url, headers, body })
}

function assertErrorAnswer(
  response: LightMyRequestResponse,
  status: number,
  code: string,
  text?: string,
): void {
  assert.equal(response.statusCode, status, `status, body: ${response.body}`)
  assert.equal(response.headers['content-type'], 'text/plain; charset=utf-8')
  assert.equal(response.headers[ERROR_CODE_HEADER], code)
  if (text !== undefined) assert.equal(response.body, text)
  assert.ok(!response.body.includes('    at '), 'the body never carries a stack')
}

function assertAccepted(response: LightMyRequestResponse): void {
  assert.equal(response.statusCode, 200, `status, body: ${response.body}`)
  assert.equal(response.body, '')
  assert.equal(response.headers[ERROR_CODE_HEADER], undefined)
}

describe('POST /run/<name>', () => {
  test('hands an accepted message to the receiver and answers 200 with an empty body', async (t) => {
    const receiver = recordingReceiver()
    const app = await appWith({ receiver: () => receiver })
    t.after(() => app.close())

    const response = await post(app, '/run/users.create', { id: 'm-1', payload: { name: 'Will' } })

    assertAccepted(response)
    assert.equal(response.headers['content-length'], '0')
    assert.deepEqual(receiver.received, [
      { name: 'users.create', id: 'm-1', payload: { name: 'Will' } },
    ])
  })

  const payloads: [string, unknown][] = [
    ['an object', { name: 'world' }],
    ['an empty object', {}],
    ['a string', 'world'],
    ['an empty string', ''],
    ['an array', [1, 2, 3]],
    ['an empty array', []],
    ['a number', 0],
    ['false', false],
  ]
  for (const [kind, payload] of payloads) {
    test(`passes ${kind} as payload to the receiver unchanged`, async (t) => {
      const receiver = recordingReceiver()
      const app = await appWith({ receiver: () => receiver })
      t.after(() => app.close())

      assertAccepted(await post(app, '/run/hello', { id: 'm-1', payload }))

      assert.deepEqual(receiver.received, [{ name: 'hello', id: 'm-1', payload }])
    })
  }

  test('leaves the payload key out when the body has no payload', async (t) => {
    const receiver = recordingReceiver()
    const app = await appWith({ receiver: () => receiver })
    t.after(() => app.close())

    assertAccepted(await post(app, '/run/hello', { id: 'm-1' }))
    assertAccepted(await post(app, '/run/hello', { id: 'm-2', payload: null }))

    assert.equal(receiver.received.length, 2)
    for (const message of receiver.received) assert.ok(!('payload' in message))
  })

  test('passes sender through when present and leaves it out when absent', async (t) => {
    const receiver = recordingReceiver()
    const app = await appWith({ receiver: () => receiver })
    t.after(() => app.close())

    assertAccepted(await post(app, '/run/hello', { id: 'm-1', sender: 'web' }))
    assertAccepted(await post(app, '/run/hello', { id: 'm-2' }))

    assert.equal(receiver.received[0]?.sender, 'web')
    assert.ok(!('sender' in receiver.received[1]!))
  })

  test('passes responseTo through to the receiver', async (t) => {
    const receiver = recordingReceiver()
    const app = await appWith({ receiver: () => receiver })
    t.after(() => app.close())

    assertAccepted(
      await post(app, '/run/users.created', { id: 'm-2', responseTo: 'm-1', payload: { id: 456 } }),
    )

    assert.deepEqual(receiver.received, [
      { name: 'users.created', id: 'm-2', responseTo: 'm-1', payload: { id: 456 } },
    ])
  })

  test('ignores body keys that are not part of the protocol', async (t) => {
    const receiver = recordingReceiver()
    const app = await appWith({ receiver: () => receiver })
    t.after(() => app.close())

    assertAccepted(await post(app, '/run/hello', { id: 'm-1', name: 'other', extra: true }))

    assert.deepEqual(receiver.received, [{ name: 'hello', id: 'm-1' }])
  })
})

describe('message names in the path', () => {
  const names: [string, string, string][] = [
    ['an encoded slash', '/run/a%2Fb', 'a/b'],
    ['an encoded space', '/run/users%20create', 'users create'],
    ['encoded unicode', `/run/${encodeURIComponent('grüße.✓')}`, 'grüße.✓'],
    ['an encoded percent sign, decoded once', '/run/a%252Fb', 'a%2Fb'],
    ['an encoded question mark', '/run/a%3Fb', 'a?b'],
    ['a plain slash', '/run/a/b', 'a/b'],
  ]
  for (const [kind, url, name] of names) {
    test(`decodes ${kind}`, async (t) => {
      const receiver = recordingReceiver()
      const app = await appWith({ receiver: () => receiver })
      t.after(() => app.close())

      assertAccepted(await post(app, url, { id: 'm-1' }))

      assert.equal(receiver.received[0]?.name, name)
    })
  }

  test('drops the query string from the name', async (t) => {
    const receiver = recordingReceiver()
    const app = await appWith({ receiver: () => receiver })
    t.after(() => app.close())

    assertAccepted(await post(app, '/run/hello?trace=1', { id: 'm-1' }))

    assert.equal(receiver.received[0]?.name, 'hello')
  })

  test('accepts a 512-character name, longer than Fastify allows for route params', async (t) => {
    const receiver = recordingReceiver()
    const app = await appWith({ receiver: () => receiver })
    t.after(() => app.close())
    const name = 'n'.repeat(512)

    assertAccepted(await post(app, `/run/${name}`, { id: 'm-1' }))

    assert.equal(receiver.received[0]?.name, name)
  })

  test('answers 404 for a 600-character name without calling the receiver', async (t) => {
    const receiver = recordingReceiver()
    const app = await appWith({ receiver: () => receiver })
    t.after(() => app.close())
    const name = 'n'.repeat(600)

    const response = await post(app, `/run/${name}`, { id: 'm-1' })

    // Quoted shortened: an over-long name must not come back in full.
    assertErrorAnswer(
      response,
      404,
      ErrorCodes.UNKNOWN_MESSAGE,
      `unknown message: '${'n'.repeat(40)}…' (600 characters)`,
    )
    assert.equal(receiver.received.length, 0)
  })

  for (const url of ['/run/%zz', '/run/a%', '/run/%E2%9C']) {
    test(`answers 400 for invalid percent-encoding in ${url} and keeps serving`, async (t) => {
      const receiver = recordingReceiver()
      const app = await appWith({ receiver: () => receiver })
      t.after(() => app.close())

      const response = await post(app, url, { id: 'm-1' })

      // Mounted, the app's router answers a bad URL (Fastify's FST_ERR_BAD_URL), before any route.
      assert.equal(response.statusCode, 400)
      assert.equal(receiver.received.length, 0)
      assertAccepted(await post(app, '/run/hello', { id: 'm-2' }))
    })
  }

  for (const url of ['/run', '/run/']) {
    test(`answers 404 unknown message '' for POST ${url}`, async (t) => {
      const receiver = recordingReceiver()
      const app = await appWith({ receiver: () => receiver })
      t.after(() => app.close())

      assertErrorAnswer(
        await post(app, url, { id: 'm-1' }),
        404,
        ErrorCodes.UNKNOWN_MESSAGE,
        "unknown message: ''",
      )
      assertErrorAnswer(
        await post(app, url),
        404,
        ErrorCodes.UNKNOWN_MESSAGE,
        "unknown message: ''",
      )
      assert.equal(receiver.received.length, 0)
    })
  }
})

describe('message ids', () => {
  test('answers 400 missing message id for a body without id', async (t) => {
    const receiver = recordingReceiver()
    const app = await appWith({ receiver: () => receiver })
    t.after(() => app.close())

    const response = await post(app, '/run/hello', { payload: 'x' })

    assertErrorAnswer(response, 400, ErrorCodes.MISSING_ID, 'missing message id')
    assert.equal(receiver.received.length, 0)
  })

  test('answers 400 missing message id for a request without a body', async (t) => {
    const receiver = recordingReceiver()
    const app = await appWith({ receiver: () => receiver })
    t.after(() => app.close())

    assertErrorAnswer(
      await post(app, '/run/hello'),
      400,
      ErrorCodes.MISSING_ID,
      'missing message id',
    )
  })

  test('answers 400 missing message id for an empty id', async (t) => {
    const app = await appWith({ receiver: () => recordingReceiver() })
    t.after(() => app.close())

    assertErrorAnswer(
      await post(app, '/run/hello', { id: '' }),
      400,
      ErrorCodes.MISSING_ID,
      'missing message id',
    )
  })

  const badIds: [string, unknown][] = [
    ['a number', 42],
    ['an object', { value: 'm-1' }],
    ['300 characters long', 'i'.repeat(300)],
  ]
  for (const [kind, id] of badIds) {
    test(`answers 400 invalid message for an id that is ${kind}`, async (t) => {
      const receiver = recordingReceiver()
      const app = await appWith({ receiver: () => receiver })
      t.after(() => app.close())

      const response = await post(app, '/run/hello', { id })

      assertErrorAnswer(response, 400, ErrorCodes.INVALID_MESSAGE)
      assert.match(response.body, /message id must be a non-empty string/)
      assert.equal(receiver.received.length, 0)
    })
  }

  test('answers 400 invalid message for a responseTo that is not a string', async (t) => {
    const app = await appWith({ receiver: () => recordingReceiver() })
    t.after(() => app.close())

    const response = await post(app, '/run/hello', { id: 'm-1', responseTo: 7 })

    assertErrorAnswer(response, 400, ErrorCodes.INVALID_MESSAGE)
    assert.match(response.body, /responseTo/)
  })

  test('answers 400 invalid message for a JSON body that is not an object', async (t) => {
    const app = await appWith({ receiver: () => recordingReceiver() })
    t.after(() => app.close())

    assertErrorAnswer(
      await postRaw(app, '/run/hello', '[1,2]'),
      400,
      ErrorCodes.INVALID_MESSAGE,
      'message body must be a JSON object, got an array',
    )
    assertErrorAnswer(await postRaw(app, '/run/hello', '"m-1"'), 400, ErrorCodes.INVALID_MESSAGE)
  })
})

describe('request bodies', () => {
  const accepted = ['application/json', 'application/json; charset=utf-8', 'Application/JSON']
  for (const contentType of accepted) {
    test(`accepts content type ${contentType}`, async (t) => {
      const receiver = recordingReceiver()
      const app = await appWith({ receiver: () => receiver })
      t.after(() => app.close())

      assertAccepted(await postRaw(app, '/run/hello', '{"id":"m-1"}', contentType))

      assert.equal(receiver.received.length, 1)
    })
  }

  const refused = [
    'text/plain',
    'application/x-www-form-urlencoded',
    'application/vnd.api+json',
    'application/jsonx',
  ]
  for (const contentType of refused) {
    test(`answers 415 for content type ${contentType}`, async (t) => {
      const receiver = recordingReceiver()
      const app = await appWith({ receiver: () => receiver })
      t.after(() => app.close())

      const response = await postRaw(app, '/run/hello', '{"id":"m-1"}', contentType)

      assertErrorAnswer(
        response,
        415,
        ErrorCodes.INVALID_MESSAGE,
        `only application/json is accepted, got '${contentType}'`,
      )
      assert.equal(receiver.received.length, 0)
    })
  }

  test('answers 415 for a body without a content type', async (t) => {
    const app = await appWith({ receiver: () => recordingReceiver() })
    t.after(() => app.close())

    assertErrorAnswer(
      await postRaw(app, '/run/hello', '{"id":"m-1"}', null),
      415,
      ErrorCodes.INVALID_MESSAGE,
      'only application/json is accepted, got no content type',
    )
  })

  test('answers 400 missing message id for an empty application/json body', async (t) => {
    const app = await appWith({ receiver: () => recordingReceiver() })
    t.after(() => app.close())

    assertErrorAnswer(
      await postRaw(app, '/run/hello', ''),
      400,
      ErrorCodes.MISSING_ID,
      'missing message id',
    )
  })

  test('answers 400 invalid message for malformed JSON', async (t) => {
    const receiver = recordingReceiver()
    const app = await appWith({ receiver: () => receiver })
    t.after(() => app.close())

    const response = await postRaw(app, '/run/hello', '{"id": "m-1",')

    assertErrorAnswer(response, 400, ErrorCodes.INVALID_MESSAGE)
    assert.match(response.body, /not valid JSON/)
    assert.equal(receiver.received.length, 0)
  })

  for (const body of [
    '{"id":"m-1","payload":{"__proto__":{"polluted":true}}}',
    '{"id":"m-1","__proto__":{"polluted":true}}',
    '{"id":"m-1","constructor":{"prototype":{"polluted":true}}}',
  ]) {
    test(`refuses a prototype-poisoning body ${body} with 400`, async (t) => {
      const receiver = recordingReceiver()
      const app = await appWith({ receiver: () => receiver })
      t.after(() => app.close())

      const response = await postRaw(app, '/run/hello', body)

      assertErrorAnswer(response, 400, ErrorCodes.INVALID_MESSAGE)
      assert.equal(receiver.received.length, 0)
      assert.equal(({} as Record<string, unknown>).polluted, undefined)
    })
  }

  test('keeps prototype-poisoning protection on even when the app turned it off', async (t) => {
    const receiver = recordingReceiver()
    const app = Fastify({ onProtoPoisoning: 'ignore', onConstructorPoisoning: 'ignore' })
    app.register(exoRelayRoutes, { receiver: () => receiver })
    t.after(() => app.close())

    const response = await postRaw(app, '/run/hello', '{"id":"m-1","__proto__":{"polluted":true}}')

    assertErrorAnswer(response, 400, ErrorCodes.INVALID_MESSAGE)
    assert.equal(receiver.received.length, 0)
  })

  test('answers 413 for a body over bodyLimit', async (t) => {
    const receiver = recordingReceiver()
    const app = await appWith({ receiver: () => receiver, bodyLimit: 100 })
    t.after(() => app.close())

    const small = await post(app, '/run/hello', { id: 'm-1', payload: 'x'.repeat(50) })
    const large = await post(app, '/run/hello', { id: 'm-2', payload: 'x'.repeat(100) })

    assertAccepted(small)
    assertErrorAnswer(
      large,
      413,
      ErrorCodes.INVALID_MESSAGE,
      'message body is larger than the limit of 100 bytes',
    )
    assert.deepEqual(
      receiver.received.map((message) => message.id),
      ['m-1'],
    )
  })

  test('accepts bodies up to 1 MiB by default and answers 413 above', async (t) => {
    const receiver = recordingReceiver()
    const app = await appWith({ receiver: () => receiver })
    t.after(() => app.close())
    const envelope = (size: number): string => {
      const frame = JSON.stringify({ id: 'm-1', payload: '' })
      return JSON.stringify({ id: 'm-1', payload: 'x'.repeat(size - frame.length) })
    }

    assert.equal(DEFAULT_BODY_LIMIT, 1_048_576)
    assertAccepted(await postRaw(app, '/run/hello', envelope(DEFAULT_BODY_LIMIT)))
    assertErrorAnswer(
      await postRaw(app, '/run/hello', envelope(DEFAULT_BODY_LIMIT + 1)),
      413,
      ErrorCodes.INVALID_MESSAGE,
    )
  })
})

describe('receipts', () => {
  test('answers 404 unknown message when the receiver knows no handler', async (t) => {
    const error = new ProtocolError(ErrorCodes.UNKNOWN_MESSAGE, "unknown message: 'zonk'")
    const app = await appWith({ receiver: () => () => ({ status: 'unknown', error }) })
    t.after(() => app.close())

    assertErrorAnswer(
      await post(app, '/run/zonk', { id: 'm-1' }),
      404,
      ErrorCodes.UNKNOWN_MESSAGE,
      "unknown message: 'zonk'",
    )
  })

  test('answers 500 with the error message and code, never the stack, when a handler failed', async (t) => {
    const error = new HandlerError(ErrorCodes.HANDLER_FAILED, "The handler for 'hello' failed.", {
      cause: new Error('secret database password in here'),
    })
    const app = await appWith({ receiver: () => () => ({ status: 'failed', error }) })
    t.after(() => app.close())

    const response = await post(app, '/run/hello', { id: 'm-1' })

    assertErrorAnswer(response, 500, ErrorCodes.HANDLER_FAILED, "The handler for 'hello' failed.")
    assert.ok(!response.body.includes('secret'))
  })

  test('answers 503 with the error message and code when the relay is unavailable', async (t) => {
    const error = new ClosedError(
      ErrorCodes.CLOSED,
      "The relay is closing: cannot receive 'hello'.",
    )
    const app = await appWith({ receiver: () => () => ({ status: 'unavailable', error }) })
    t.after(() => app.close())

    assertErrorAnswer(
      await post(app, '/run/hello', { id: 'm-1' }),
      503,
      ErrorCodes.CLOSED,
      "The relay is closing: cannot receive 'hello'.",
    )
  })

  test('answers 503 not listening while the relay has no receiver', async (t) => {
    let receiver: Receiver | undefined
    const app = await appWith({ receiver: () => receiver })
    t.after(() => app.close())

    assertErrorAnswer(
      await post(app, '/run/hello', { id: 'm-1' }),
      503,
      ErrorCodes.NOT_LISTENING,
      'not listening',
    )
    receiver = recordingReceiver()
    assertAccepted(await post(app, '/run/hello', { id: 'm-2' }))
  })

  test('answers 500 when the receiver throws, and serves the next request', async (t) => {
    const logger = recordingLogger()
    let calls = 0
    const app = await appWith({
      logger,
      receiver: () => () => {
        calls += 1
        if (calls === 1) throw new Error('receiver bug with a secret')
        return ACCEPTED
      },
    })
    t.after(() => app.close())

    const failed = await post(app, '/run/hello', { id: 'm-1' })
    const next = await post(app, '/run/hello', { id: 'm-2' })

    assertErrorAnswer(failed, 500, ErrorCodes.HANDLER_FAILED)
    assert.ok(!failed.body.includes('secret'))
    assertAccepted(next)
    const errors = logger.lines.filter((line) => line.level === 'error')
    assert.equal(errors.length, 1)
    assert.equal(errors[0]?.bindings.messageId, 'm-1')
    assert.equal((errors[0]!.bindings.err as Error).message, 'receiver bug with a secret')
  })

  test('answers 500 when the receiver returns something that is not a receipt', async (t) => {
    const app = await appWith({
      receiver: () => (() => ({ status: 'maybe' })) as unknown as Receiver,
    })
    t.after(() => app.close())

    assertErrorAnswer(await post(app, '/run/hello', { id: 'm-1' }), 500, ErrorCodes.HANDLER_FAILED)
  })
})

describe('GET /status', () => {
  test('answers 200 with an empty body while the relay receives', async (t) => {
    const app = await appWith({ receiver: () => recordingReceiver() })
    t.after(() => app.close())

    const response = await app.inject({ method: 'GET', url: '/status' })

    assertAccepted(response)
  })

  test('answers 503 not listening while the relay does not receive', async (t) => {
    const app = await appWith({ receiver: () => undefined })
    t.after(() => app.close())

    assertErrorAnswer(
      await app.inject({ method: 'GET', url: '/status' }),
      503,
      ErrorCodes.NOT_LISTENING,
      'not listening',
    )
  })
})

describe('logging', () => {
  test('logs each outcome at debug with the message name, id and status', async (t) => {
    const logger = recordingLogger()
    const app = await appWith({ logger, receiver: () => recordingReceiver() })
    t.after(() => app.close())

    await post(app, '/run/hello', { id: 'm-1' })

    const debug = logger.lines.filter((line) => line.level === 'debug')
    assert.deepEqual(debug[0]?.bindings, { messageName: 'hello', messageId: 'm-1', status: 200 })
  })

  test('skips the debug line when the logger says debug is off', async (t) => {
    const logger = Object.assign(recordingLogger(), { isLevelEnabled: () => false })
    const app = await appWith({ logger, receiver: () => recordingReceiver() })
    t.after(() => app.close())

    assertAccepted(await post(app, '/run/hello', { id: 'm-1' }))

    assert.equal(logger.lines.length, 0)
  })

  test('logs bad input at warn with the status and code', async (t) => {
    const logger = recordingLogger()
    const app = await appWith({ logger, receiver: () => recordingReceiver() })
    t.after(() => app.close())

    await post(app, '/run/hello', { payload: 1 })
    await postRaw(app, '/run/hello', 'id=1', 'text/plain')

    const warnings = logger.lines.filter((line) => line.level === 'warn')
    assert.deepEqual(
      warnings.map((line) => [line.bindings.messageName, line.bindings.status, line.bindings.code]),
      [
        ['hello', 400, ErrorCodes.MISSING_ID],
        ['hello', 415, ErrorCodes.INVALID_MESSAGE],
      ],
    )
  })
})

describe('options', () => {
  test('refuses a receiver option that is not a function', async () => {
    const app = Fastify()
    app.register(exoRelayRoutes, { receiver: 'nope' } as unknown as ListenerRoutesOptions)

    await assert.rejects(async () => app.ready(), { code: ErrorCodes.INVALID_OPTION })
  })

  for (const bodyLimit of [0, -1, 1.5, Number.NaN]) {
    test(`refuses bodyLimit ${bodyLimit}`, async () => {
      const app = Fastify()
      app.register(exoRelayRoutes, { receiver: () => undefined, bodyLimit })

      await assert.rejects(async () => app.ready(), { code: ErrorCodes.INVALID_OPTION })
    })
  }
})

describe('mounted in a user app', () => {
  async function userApp(receiver: Receiver): Promise<FastifyInstance> {
    const app = Fastify()
    app.setErrorHandler((error: FastifyError, _request, reply) => {
      reply.code(418).send({ mine: true, message: error.message })
    })
    // Mounted before the user's routes, so that handlers leaking out of it would reach them.
    await app.register(exoRelayRoutes, { receiver: () => receiver })
    app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_request, body, done) => {
      done(null, `text:${body as string}`)
    })
    app.get('/api/health', async () => ({ ok: true }))
    app.post('/api/echo', async (request) => ({ body: request.body }))
    app.get('/api/broken', async () => {
      throw new Error('user bug')
    })
    await app.ready()
    return app
  }

  test('serves the user routes and the relay routes side by side', async (t) => {
    const receiver = recordingReceiver()
    const app = await userApp(receiver)
    t.after(() => app.close())

    const health = await app.inject({ method: 'GET', url: '/api/health' })
    const run = await post(app, '/run/hello', { id: 'm-1' })
    const status = await app.inject({ method: 'GET', url: '/status' })

    assert.equal(health.statusCode, 200)
    assert.deepEqual(health.json(), { ok: true })
    assertAccepted(run)
    assertAccepted(status)
    assert.equal(receiver.received.length, 1)
  })

  test('serves both on a real server', async (t) => {
    const receiver = recordingReceiver()
    const app = await userApp(receiver)
    t.after(() => app.close())
    const address = await app.listen({ port: 0, host: '127.0.0.1' })

    const health = await fetch(`${address}/api/health`)
    const run = await fetch(`${address}/run/users.create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'm-1', payload: { name: 'Will' } }),
    })

    assert.deepEqual(await health.json(), { ok: true })
    assert.equal(run.status, 200)
    assert.equal(await run.text(), '')
    assert.deepEqual(receiver.received, [
      { name: 'users.create', id: 'm-1', payload: { name: 'Will' } },
    ])
  })

  test("keeps the user's error handler for the user's routes", async (t) => {
    const app = await userApp(recordingReceiver())
    t.after(() => app.close())

    const thrown = await app.inject({ method: 'GET', url: '/api/broken' })
    // A body error on a user route is the user's to answer, not the relay's plain text.
    const malformed = await postRaw(app, '/api/echo', '{"a":')

    assert.equal(thrown.statusCode, 418)
    assert.deepEqual(thrown.json(), { mine: true, message: 'user bug' })
    assert.equal(malformed.statusCode, 418)
    assert.equal(malformed.headers[ERROR_CODE_HEADER], undefined)
    assert.equal(malformed.json().mine, true)
  })

  test("keeps the user's body parsers for the user's routes and JSON-only for the relay's", async (t) => {
    const app = await userApp(recordingReceiver())
    t.after(() => app.close())

    const userText = await postRaw(app, '/api/echo', 'hi', 'text/plain')
    const userJson = await postRaw(app, '/api/echo', '{"a":1}')
    const relayText = await postRaw(app, '/run/hello', '{"id":"m-1"}', 'text/plain')

    assert.deepEqual(userText.json(), { body: 'text:hi' })
    assert.deepEqual(userJson.json(), { body: { a: 1 } })
    assertErrorAnswer(relayText, 415, ErrorCodes.INVALID_MESSAGE)
  })

  test("passes errors that are not about the message on to the user's error handler", async (t) => {
    const app = Fastify()
    app.setErrorHandler((error: FastifyError, _request, reply) => {
      reply.code(error.statusCode ?? 500).send({ mine: true, message: error.message })
    })
    app.addHook('onRequest', async (request) => {
      if (request.headers.authorization === undefined) {
        throw Object.assign(new Error('no credentials'), { statusCode: 401 })
      }
    })
    app.register(exoRelayRoutes, { receiver: () => recordingReceiver() })
    t.after(() => app.close())

    const refused = await post(app, '/run/hello', { id: 'm-1' })
    const allowed = await app.inject({
      method: 'POST',
      url: '/run/hello',
      headers: { authorization: 'Bearer x' },
      payload: { id: 'm-2' },
    })

    assert.equal(refused.statusCode, 401)
    assert.deepEqual(refused.json(), { mine: true, message: 'no credentials' })
    assertAccepted(allowed)
  })

  test('serves the routes under a prefix given at registration', async (t) => {
    const receiver = recordingReceiver()
    const app = Fastify()
    app.register(exoRelayRoutes, { prefix: '/bus', receiver: () => receiver })
    t.after(() => app.close())

    assertAccepted(await post(app, '/bus/run/a%2Fb', { id: 'm-1' }))

    assert.equal(receiver.received[0]?.name, 'a/b')
  })

  test('works in an app that ignores trailing slashes', async (t) => {
    const receiver = recordingReceiver()
    const app = Fastify({ routerOptions: { ignoreTrailingSlash: true } })
    app.register(exoRelayRoutes, { receiver: () => receiver })
    t.after(() => app.close())

    assertAccepted(await post(app, '/run/hello', { id: 'm-1' }))
    assertErrorAnswer(await post(app, '/run/', { id: 'm-2' }), 404, ErrorCodes.UNKNOWN_MESSAGE)
    assertErrorAnswer(await post(app, '/run', { id: 'm-3' }), 404, ErrorCodes.UNKNOWN_MESSAGE)
  })
})

const TOKEN = 's3cret-relay-token-2718281828'

function postWith(
  app: FastifyInstance,
  url: string,
  authorization: string | undefined,
  body: unknown = { id: 'm-1' },
): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = {}
  if (authorization !== undefined) headers.authorization = authorization
  return app.inject({ method: 'POST', url, headers, payload: body as object })
}

function assertUnauthorized(response: LightMyRequestResponse): void {
  assertErrorAnswer(response, 401, ErrorCodes.UNAUTHORIZED, 'missing or invalid token')
  assert.equal(response.headers['www-authenticate'], 'Bearer')
}

describe('the shared secret', () => {
  test('accepts a message that carries the token, whatever the case of the scheme', async (t) => {
    const receiver = recordingReceiver()
    const app = await appWith({ receiver: () => receiver, token: TOKEN })
    t.after(() => app.close())

    assertAccepted(await postWith(app, '/run/hello', `Bearer ${TOKEN}`, { id: 'm-1' }))
    assertAccepted(await postWith(app, '/run/hello', `bearer ${TOKEN}`, { id: 'm-2' }))

    assert.deepEqual(
      receiver.received.map((message) => message.id),
      ['m-1', 'm-2'],
    )
  })

  test('answers 401 without the token, with a wrong one or one of another length, and hands nothing on', async (t) => {
    const receiver = recordingReceiver()
    const app = await appWith({ receiver: () => receiver, token: TOKEN })
    t.after(() => app.close())
    const sameLength = 'x'.repeat(TOKEN.length)
    const refused = [
      undefined,
      '',
      `Bearer ${sameLength}`,
      'Bearer short',
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Basic ${TOKEN}`,
      TOKEN,
      'Bearer',
      'Bearer ',
    ]

    for (const authorization of refused) {
      assertUnauthorized(await postWith(app, '/run/hello', authorization))
    }
    assertUnauthorized(await postWith(app, '/run', undefined))

    assert.deepEqual(receiver.received, [])
  })

  test('checks the token before the body is read', async (t) => {
    const receiver = recordingReceiver()
    const app = await appWith({ receiver: () => receiver, token: TOKEN, bodyLimit: 64 })
    t.after(() => app.close())

    // Each would be a 400, 413 or 415 once parsed; refused first, none of them is.
    assertUnauthorized(await postRaw(app, '/run/hello', '{"id":'))
    assertUnauthorized(await postRaw(app, '/run/hello', JSON.stringify({ id: 'x'.repeat(200) })))
    assertUnauthorized(await postRaw(app, '/run/hello', 'id=1', 'text/plain'))

    assert.deepEqual(receiver.received, [])
  })

  test('leaves GET and HEAD /status open', async (t) => {
    const app = await appWith({ receiver: () => recordingReceiver(), token: TOKEN })
    t.after(() => app.close())

    assertAccepted(await app.inject({ method: 'GET', url: '/status' }))
    assert.equal((await app.inject({ method: 'HEAD', url: '/status' })).statusCode, 200)
  })

  test('guards the relay routes only, never the routes of the app it is mounted in', async (t) => {
    const app = Fastify()
    app.get('/api/health', async () => ({ ok: true }))
    app.register(exoRelayRoutes, { receiver: () => recordingReceiver(), token: TOKEN })
    t.after(() => app.close())

    const health = await app.inject({ method: 'GET', url: '/api/health' })

    assert.equal(health.statusCode, 200)
    assertUnauthorized(await postWith(app, '/run/hello', undefined))
  })

  test('logs each refusal at warn and never the token', async (t) => {
    const logger = recordingLogger()
    const app = await appWith({ logger, receiver: () => recordingReceiver(), token: TOKEN })
    t.after(() => app.close())

    await postWith(app, '/run/hello', `Bearer ${TOKEN}`)
    await postWith(app, '/run/hello', `Bearer ${TOKEN}x`)
    await postWith(app, '/run/hello', undefined)

    const refusals = logger.lines.filter((line) => line.level === 'warn')
    assert.deepEqual(
      refusals.map((line) => [line.bindings.messageName, line.bindings.status, line.bindings.code]),
      [
        ['hello', 401, ErrorCodes.UNAUTHORIZED],
        ['hello', 401, ErrorCodes.UNAUTHORIZED],
      ],
    )
    assert.ok(!inspect(logger.lines, { depth: 10 }).includes(TOKEN), 'the token leaked')
  })

  test('tells onTokenCheck whether each request to /run carried the token, and nothing of GET /status', async (t) => {
    const receiver = recordingReceiver()
    const checks: [boolean, string, string | undefined][] = []
    const app = await appWith({
      receiver: () => receiver,
      token: TOKEN,
      onTokenCheck: (accepted, request) => {
        checks.push([accepted, request.url, request.headers.authorization])
      },
    })
    t.after(() => app.close())

    assertAccepted(await postWith(app, '/run/hello', `Bearer ${TOKEN}`, { id: 'm-1' }))
    assertUnauthorized(await postWith(app, '/run/hello', undefined))
    assertUnauthorized(await postWith(app, '/run', 'Bearer wrong', [{ name: 'hello', id: 'm-2' }]))
    assertAccepted(await app.inject({ method: 'GET', url: '/status' }))

    assert.deepEqual(checks, [
      [true, '/run/hello', `Bearer ${TOKEN}`],
      [false, '/run/hello', undefined],
      [false, '/run', 'Bearer wrong'],
    ])
    assert.deepEqual(
      receiver.received.map((message) => message.id),
      ['m-1'],
    )
  })

  test('refuses an onTokenCheck that is not a function with INVALID_OPTION', async () => {
    const app = Fastify()
    app.register(exoRelayRoutes, {
      receiver: () => undefined,
      token: TOKEN,
      onTokenCheck: 'log it',
    } as unknown as ListenerRoutesOptions)

    await assert.rejects(async () => app.ready(), {
      code: ErrorCodes.INVALID_OPTION,
      message: /^The onTokenCheck option of exoRelayRoutes must be a function, got /,
    })
  })

  test('refuses a token that cannot travel in a header, without quoting it', async () => {
    for (const token of ['', 'two words', 42]) {
      const app = Fastify()
      app.register(exoRelayRoutes, {
        receiver: () => undefined,
        token,
      } as unknown as ListenerRoutesOptions)

      await assert.rejects(
        async () => app.ready(),
        (error: Error & { code?: string }) => {
          assert.equal(error.code, ErrorCodes.INVALID_OPTION)
          assert.ok(!error.message.includes('two words'))
          return true
        },
      )
    }
  })
})

describe('GET /status with readiness details', () => {
  test('answers 200 with the status object as JSON', async (t) => {
    const app = await appWith({
      receiver: () => recordingReceiver(),
      status: () => ({ ready: true, exocom: { reachable: true } }),
    })
    t.after(() => app.close())

    const response = await app.inject({ method: 'GET', url: '/status' })

    assert.equal(response.statusCode, 200)
    assert.match(String(response.headers['content-type']), /^application\/json/)
    assert.deepEqual(response.json(), { ready: true, exocom: { reachable: true } })
  })

  test('asks the status function afresh on every probe', async (t) => {
    let probes = 0
    const app = await appWith({
      receiver: () => recordingReceiver(),
      status: () => ({ probes: ++probes }),
    })
    t.after(() => app.close())

    await app.inject({ method: 'GET', url: '/status' })
    const second = await app.inject({ method: 'GET', url: '/status' })

    assert.deepEqual(second.json(), { probes: 2 })
  })

  test('keeps the 503 while the relay does not receive, without asking the status function', async (t) => {
    let probes = 0
    const app = await appWith({
      receiver: () => undefined,
      status: () => ({ probes: ++probes }),
    })
    t.after(() => app.close())

    assertErrorAnswer(
      await app.inject({ method: 'GET', url: '/status' }),
      503,
      ErrorCodes.NOT_LISTENING,
      'not listening',
    )
    assert.equal(probes, 0)
  })

  test('answers 500 and logs the error when the status function throws', async (t) => {
    const logger = recordingLogger()
    const app = await appWith({
      logger,
      receiver: () => recordingReceiver(),
      status: () => {
        throw new Error('status bug')
      },
    })
    t.after(() => app.close())

    assertErrorAnswer(
      await app.inject({ method: 'GET', url: '/status' }),
      500,
      ErrorCodes.HANDLER_FAILED,
      'the relay failed to report its status',
    )
    const [line] = logger.lines.filter((entry) => entry.level === 'error')
    assert.equal((line?.bindings.err as Error | undefined)?.message, 'status bug')
  })

  test('refuses a status option that is not a function', async () => {
    const app = Fastify()
    app.register(exoRelayRoutes, {
      receiver: () => undefined,
      status: { ready: true },
    } as unknown as ListenerRoutesOptions)

    await assert.rejects(async () => app.ready(), { code: ErrorCodes.INVALID_OPTION })
  })
})

describe('batches on POST /run', () => {
  /** Accepts every message but `zonk` (no handler), `boom` (throws), `fail` and `closing`. */
  function scriptedReceiver(): Receiver & { received: ReceivedMessage[] } {
    const received: ReceivedMessage[] = []
    const receiver = (message: ReceivedMessage): Receipt => {
      received.push(message)
      switch (message.name) {
        case 'zonk':
          return {
            status: 'unknown',
            error: new ProtocolError(ErrorCodes.UNKNOWN_MESSAGE, "unknown message: 'zonk'"),
          }
        case 'boom':
          throw new Error('receiver bug with a secret')
        case 'fail':
          return {
            status: 'failed',
            error: new HandlerError(ErrorCodes.HANDLER_FAILED, "The handler for 'fail' failed."),
          }
        case 'closing':
          return {
            status: 'unavailable',
            error: new ClosedError(ErrorCodes.CLOSED, "The relay is closing: cannot receive 'x'."),
          }
        default:
          return ACCEPTED
      }
    }
    return Object.assign(receiver, { received })
  }

  function assertBatchAnswer(response: LightMyRequestResponse): unknown[] {
    assert.equal(response.statusCode, 200, `status, body: ${response.body}`)
    assert.match(String(response.headers['content-type']), /^application\/json/)
    assert.equal(response.headers[ERROR_CODE_HEADER], undefined)
    const results = response.json()
    assert.ok(Array.isArray(results))
    return results
  }

  test('answers one result per message in order, and hands only the valid ones on, in order', async (t) => {
    const receiver = scriptedReceiver()
    const app = await appWith({ receiver: () => receiver })
    t.after(() => app.close())

    const response = await post(app, '/run', [
      { name: 'users.create', id: 'm-1', sender: 'web', payload: { name: 'Will' } },
      { name: 'zonk', id: 'm-2' },
      { name: 'hello', payload: 'no id' },
      42,
      { name: 'boom', id: 'm-5' },
      { name: 'hello', id: 'm-6', responseTo: 7 },
      { name: 'after', id: 'm-7' },
    ])

    assert.deepEqual(assertBatchAnswer(response), [
      { status: 200 },
      { status: 404, code: ErrorCodes.UNKNOWN_MESSAGE, error: "unknown message: 'zonk'" },
      { status: 400, code: ErrorCodes.MISSING_ID, error: 'missing message id' },
      {
        status: 400,
        code: ErrorCodes.INVALID_MESSAGE,
        error: 'a batch entry must be a JSON object, got number 42',
      },
      {
        status: 500,
        code: ErrorCodes.HANDLER_FAILED,
        error: "the relay failed while receiving 'boom'",
      },
      {
        status: 400,
        code: ErrorCodes.INVALID_MESSAGE,
        error:
          'message responseTo must be a non-empty string of at most 256 characters, got number 7',
      },
      { status: 200 },
    ])
    assert.deepEqual(receiver.received, [
      { name: 'users.create', id: 'm-1', sender: 'web', payload: { name: 'Will' } },
      { name: 'zonk', id: 'm-2' },
      { name: 'boom', id: 'm-5' },
      { name: 'after', id: 'm-7' },
    ])
  })

  test('gives each message the status, code and text the single route answers for it', async (t) => {
    const messages: Record<string, unknown>[] = [
      { name: 'hello', id: 'm-1' },
      { name: 'zonk', id: 'm-2' },
      { name: 'fail', id: 'm-3' },
      { name: 'closing', id: 'm-4' },
      { name: 'boom', id: 'm-5' },
      { name: 'hello', id: 'i'.repeat(300) },
      { name: 'n'.repeat(600), id: 'm-7' },
      { name: '', id: 'm-8' },
      { name: 'hello', id: '' },
    ]
    const app = await appWith({ receiver: () => scriptedReceiver() })
    t.after(() => app.close())

    const single: unknown[] = []
    for (const { name, ...body } of messages) {
      const response = await post(app, `/run/${encodeURIComponent(name as string)}`, body)
      single.push(
        response.statusCode === 200
          ? { status: 200 }
          : {
              status: response.statusCode,
              code: response.headers[ERROR_CODE_HEADER],
              error: response.body,
            },
      )
    }
    const batch = assertBatchAnswer(await post(app, '/run', messages))

    assert.deepEqual(batch, single)
    // Not vacuous: every kind of answer is among them.
    assert.deepEqual(
      batch.map((result) => (result as { status: number }).status),
      [200, 404, 500, 503, 500, 400, 404, 404, 400],
    )
  })

  test('logs each message exactly as the single route logs it', async (t) => {
    const messages: Record<string, unknown>[] = [
      { name: 'hello', id: 'm-1' },
      { name: 'zonk', id: 'm-2' },
      { name: 'hello', payload: 'no id' },
      { name: 'fail', id: 'm-4' },
      { name: 'closing', id: 'm-5' },
    ]
    const singleLogger = recordingLogger()
    const batchLogger = recordingLogger()
    const singleApp = await appWith({ logger: singleLogger, receiver: () => scriptedReceiver() })
    const batchApp = await appWith({ logger: batchLogger, receiver: () => scriptedReceiver() })
    t.after(() => Promise.all([singleApp.close(), batchApp.close()]))

    for (const { name, ...body } of messages) await post(singleApp, `/run/${name}`, body)
    assertBatchAnswer(await post(batchApp, '/run', messages))

    assert.equal(batchLogger.lines.length, messages.length)
    assert.deepEqual(batchLogger.lines, singleLogger.lines)
  })

  test('logs a receiver that throws at error, with the message and the error', async (t) => {
    const logger = recordingLogger()
    const app = await appWith({ logger, receiver: () => scriptedReceiver() })
    t.after(() => app.close())

    assertBatchAnswer(await post(app, '/run', [{ name: 'boom', id: 'm-1' }]))

    const errors = logger.lines.filter((line) => line.level === 'error')
    assert.equal(errors.length, 1)
    assert.equal(errors[0]?.bindings.messageId, 'm-1')
    assert.equal((errors[0]!.bindings.err as Error).message, 'receiver bug with a secret')
  })

  test('builds no debug line for accepted messages when the logger says debug is off', async (t) => {
    const logger = Object.assign(recordingLogger(), { isLevelEnabled: () => false })
    const app = await appWith({ logger, receiver: () => recordingReceiver() })
    t.after(() => app.close())

    const results = assertBatchAnswer(
      await post(app, '/run', [
        { name: 'hello', id: 'm-1' },
        { name: 'hello', id: 'm-2' },
      ]),
    )

    assert.deepEqual(results, [{ status: 200 }, { status: 200 }])
    assert.equal(logger.lines.length, 0)
  })

  test('accepts 1 and 256 messages', async (t) => {
    const receiver = recordingReceiver()
    const app = await appWith({ receiver: () => receiver })
    t.after(() => app.close())
    const many = Array.from({ length: 256 }, (_, index) => ({ name: 'hello', id: `m-${index}` }))

    assert.deepEqual(assertBatchAnswer(await post(app, '/run', [{ name: 'a', id: 'x' }])), [
      { status: 200 },
    ])
    const results = assertBatchAnswer(await post(app, '/run', many))

    assert.equal(results.length, 256)
    assert.ok(results.every((result) => (result as { status: number }).status === 200))
    assert.equal(receiver.received.length, 257)
    assert.equal(receiver.received[256]?.id, 'm-255')
  })

  for (const [kind, size] of [
    ['an empty batch', 0],
    ['257 messages', 257],
  ] as const) {
    test(`refuses ${kind} as a whole with 400, delivering nothing`, async (t) => {
      const logger = recordingLogger()
      const receiver = recordingReceiver()
      const app = await appWith({ logger, receiver: () => receiver })
      t.after(() => app.close())
      const batch = Array.from({ length: size }, (_, index) => ({ name: 'a', id: `m-${index}` }))

      assertErrorAnswer(
        await post(app, '/run', batch),
        400,
        ErrorCodes.INVALID_MESSAGE,
        `a batch must hold 1 to 256 messages, got ${size}`,
      )
      assert.equal(receiver.received.length, 0)
      assert.deepEqual(
        logger.lines.map((line) => [line.level, line.bindings.status, line.bindings.code]),
        [['warn', 400, ErrorCodes.INVALID_MESSAGE]],
      )
    })
  }

  test('answers each message 503 not listening while the relay does not receive, after the checks the single route makes first', async (t) => {
    let receiver: Receiver | undefined
    const app = await appWith({ receiver: () => receiver })
    t.after(() => app.close())
    const batch = [
      { name: 'hello', id: 'm-1' },
      { name: 'hello', id: 'm-2' },
    ]

    assert.deepEqual(assertBatchAnswer(await post(app, '/run', [...batch, { name: 'hello' }])), [
      { status: 503, code: ErrorCodes.NOT_LISTENING, error: 'not listening' },
      { status: 503, code: ErrorCodes.NOT_LISTENING, error: 'not listening' },
      { status: 400, code: ErrorCodes.MISSING_ID, error: 'missing message id' },
    ])
    assertErrorAnswer(
      await post(app, '/run/hello', { name: 'hello' }),
      400,
      ErrorCodes.MISSING_ID,
      'missing message id',
    )
    receiver = recordingReceiver()
    assert.deepEqual(assertBatchAnswer(await post(app, '/run', batch)), [
      { status: 200 },
      { status: 200 },
    ])
  })

  for (const [kind, body] of [
    ['an object', '{"name":"hello","id":"m-1"}'],
    ['a string', '"m-1"'],
    ['a number', '7'],
    ['null', 'null'],
  ] as const) {
    test(`keeps answering 404 unknown message '' for ${kind} posted to /run`, async (t) => {
      const receiver = recordingReceiver()
      const app = await appWith({ receiver: () => receiver })
      t.after(() => app.close())

      assertErrorAnswer(
        await postRaw(app, '/run', body),
        404,
        ErrorCodes.UNKNOWN_MESSAGE,
        "unknown message: ''",
      )
      assert.equal(receiver.received.length, 0)
    })
  }

  test('is no batch on POST /run/<name>: an array there is a bad message body', async (t) => {
    const receiver = recordingReceiver()
    const app = await appWith({ receiver: () => receiver })
    t.after(() => app.close())

    assertErrorAnswer(
      await post(app, '/run/hello', [{ name: 'hello', id: 'm-1' }]),
      400,
      ErrorCodes.INVALID_MESSAGE,
      'message body must be a JSON object, got an array',
    )
    assert.equal(receiver.received.length, 0)
  })

  test('requires the token for a batch, before its body is read', async (t) => {
    const receiver = recordingReceiver()
    const app = await appWith({ receiver: () => receiver, token: TOKEN })
    t.after(() => app.close())
    const batch = [{ name: 'hello', id: 'm-1' }]

    assertUnauthorized(await postWith(app, '/run', undefined, batch))
    assertUnauthorized(await postWith(app, '/run', `Bearer ${TOKEN}x`, batch))
    assertUnauthorized(await postRaw(app, '/run', '[{"name":'))
    assert.equal(receiver.received.length, 0)

    assert.deepEqual(assertBatchAnswer(await postWith(app, '/run', `Bearer ${TOKEN}`, batch)), [
      { status: 200 },
    ])
    assert.equal(receiver.received.length, 1)
  })

  test('answers 413 for a batch over bodyLimit, delivering nothing', async (t) => {
    const receiver = recordingReceiver()
    const app = await appWith({ receiver: () => receiver, bodyLimit: 100 })
    t.after(() => app.close())
    const batch = [1, 2, 3].map((index) => ({ name: 'hello', id: `m-${index}`, payload: 'x' }))
    assert.ok(JSON.stringify(batch).length > 100)

    assertErrorAnswer(
      await post(app, '/run', batch),
      413,
      ErrorCodes.INVALID_MESSAGE,
      'message body is larger than the limit of 100 bytes',
    )
    assert.equal(receiver.received.length, 0)
    assert.deepEqual(assertBatchAnswer(await post(app, '/run', batch.slice(0, 1))), [
      { status: 200 },
    ])
  })

  test('answers malformed JSON on /run with 400 as a whole', async (t) => {
    const receiver = recordingReceiver()
    const app = await appWith({ receiver: () => receiver })
    t.after(() => app.close())

    const response = await postRaw(app, '/run', '[{"name":"hello","id":"m-1"},')

    assertErrorAnswer(response, 400, ErrorCodes.INVALID_MESSAGE)
    assert.match(response.body, /not valid JSON/)
    assert.equal(receiver.received.length, 0)
  })

  test('with batches: false, answers an array on /run as before, delivering nothing', async (t) => {
    const receiver = recordingReceiver()
    const app = await appWith({ receiver: () => receiver, batches: false })
    t.after(() => app.close())

    for (const batch of [[{ name: 'hello', id: 'm-1' }], []]) {
      assertErrorAnswer(
        await post(app, '/run', batch),
        404,
        ErrorCodes.UNKNOWN_MESSAGE,
        "unknown message: ''",
      )
    }
    assert.equal(receiver.received.length, 0)
    assertAccepted(await post(app, '/run/hello', { id: 'm-2' }))
  })

  for (const batches of [true, undefined]) {
    test(`accepts batches: ${batches}`, async (t) => {
      const app = await appWith({ receiver: () => recordingReceiver(), batches })
      t.after(() => app.close())

      assert.deepEqual(assertBatchAnswer(await post(app, '/run', [{ name: 'a', id: 'm-1' }])), [
        { status: 200 },
      ])
    })
  }

  for (const batches of ['yes', 1, null, {}]) {
    test(`refuses batches option ${inspect(batches)}`, async () => {
      const app = Fastify()
      app.register(exoRelayRoutes, {
        receiver: () => undefined,
        batches,
      } as unknown as ListenerRoutesOptions)

      await assert.rejects(async () => app.ready(), {
        code: ErrorCodes.INVALID_OPTION,
        message: /batches option of exoRelayRoutes must be a boolean/,
      })
    })
  }
})
