import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, test } from 'node:test'
import { ErrorCodes, isExoRelayError } from '@exorelay/core'
import { startExoCom } from '../src/exocom.js'
import { checkExoComOptions } from '../src/options.js'

// What the page shows is tested in a real browser: packages/exorelay/test/ui-browser.test.ts.
describe('the dev page at GET /', () => {
  test('a loopback bus serves it by default: one HTML file, nothing loaded from elsewhere', async (t) => {
    const bus = await startExoCom({ port: 0, logger: false })
    t.after(() => bus.close())
    const response = await fetch(`${bus.url}/`)
    assert.equal(response.status, 200)
    assert.equal(response.headers.get('content-type'), 'text/html; charset=utf-8')
    assert.equal(response.headers.get('cache-control'), 'no-store')
    assert.match(response.headers.get('content-security-policy') ?? '', /default-src 'none'/)
    assert.match(response.headers.get('content-security-policy') ?? '', /connect-src 'self'/)
    // The page's script by its hash: 'unsafe-inline' would also run an injected onerror=.
    const policy = response.headers.get('content-security-policy') ?? ''
    assert.doesNotMatch(policy, /script-src[^;]*'unsafe-inline'/)
    const [, hash] = /script-src 'sha256-([^']+)'/.exec(policy) ?? []
    const script = /<script>([\s\S]*?)<\/script>/.exec(await response.clone().text())?.[1] ?? ''
    assert.equal(hash, createHash('sha256').update(script).digest('base64'))
    const html = await response.text()
    assert.match(html, /<title>ExoCom<\/title>/)
    // No CDN, no external script or style: the bus may run with no internet.
    assert.doesNotMatch(html, /(src|href)=["']?(https?:)?\/\//)
    // Data goes in as text only.
    assert.doesNotMatch(html, /innerHTML|insertAdjacentHTML|document\.write/)
  })

  test('with a token the page itself is open (it asks for the token), and the data is not', async (t) => {
    const bus = await startExoCom({ port: 0, logger: false, token: 's3cret' })
    t.after(() => bus.close())
    assert.equal((await fetch(`${bus.url}/`)).status, 200)
    assert.equal((await fetch(`${bus.url}/config.json`)).status, 401)
  })

  test('ui: false answers GET / with 404, as a bus without the page', async (t) => {
    const bus = await startExoCom({ port: 0, logger: false, ui: false })
    t.after(() => bus.close())
    assert.equal((await fetch(`${bus.url}/`)).status, 404)
  })

  test('the page is on by default only on a loopback host', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) {
      assert.equal(checkExoComOptions({ host }).ui, true, host)
    }
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'exocom.internal']) {
      assert.equal(checkExoComOptions({ host }).ui, false, host)
    }
    assert.equal(checkExoComOptions({ host: '0.0.0.0', ui: true }).ui, true)
  })

  test('a ui that is not a boolean is refused', () => {
    assert.throws(
      () => checkExoComOptions({ ui: 'yes' as unknown as boolean }),
      (error) => isExoRelayError(error, ErrorCodes.INVALID_OPTION),
    )
  })
})
