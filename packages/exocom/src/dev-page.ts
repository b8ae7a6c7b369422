import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { OPEN_ROUTE } from '@exorelay/fastify-listener/internal'
import type { FastifyInstance } from 'fastify'

// One static file with its CSS and script inline, beside src/ and dist/ in the package: no
// build step, nothing fetched from elsewhere (the bus may run with no internet).
const PAGE = new URL('../ui/index.html', import.meta.url)

// The page's own script and style only, and requests to the bus itself: even a name that got
// into the page as markup could load nothing and send nothing elsewhere.
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/**
 * The dev page at `GET /`: the services, the routes and the messages of the bus, live. Open
 * even with a token, like `GET /status`: the page holds no data of the bus; it asks the
 * person for the token and reads `/config.json` and `/events` with it.
 */
export function addDevPage(app: FastifyInstance): void {
  // Read once, when the bus starts: a few kilobytes, served from memory.
  const html = readFileSync(PAGE)
  app.get('/', { config: OPEN_ROUTE }, (_request, reply) => {
    reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .send(html)
  })
}

/** Whether `host` is this machine only: there the dev page is on unless turned off. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true
  return isIP(host) === 4 && host.startsWith('127.')
}
