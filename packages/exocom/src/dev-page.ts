import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { OPEN_ROUTE } from '@exorelay/fastify-listener/internal'
import type { FastifyInstance } from 'fastify'

// One static file with its CSS and script inline, beside src/ and dist/ in the package: no
// build step, nothing fetched from elsewhere (the bus may run with no internet).
const PAGE = new URL('../ui/index.html', import.meta.url)

/**
 * The page's one script, by its hash (not 'unsafe-inline', which would also run an inline
 * event handler such as `onerror=`), its inline style, and requests to the bus itself: even a
 * name that got into the page as markup could run nothing, load nothing, and send nothing
 * elsewhere.
 */
function contentSecurityPolicy(html: string): string {
  const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1]
  if (script === undefined) throw new Error(`The dev page ${PAGE.pathname} has no inline script.`)
  const hash = createHash('sha256').update(script).digest('base64')
  return `default-src 'none'; script-src 'sha256-${hash}'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`
}

/**
 * The dev page at `GET /`: the services, the routes and the messages of the bus, live. Open
 * even with a token, like `GET /status`: the page holds no data of the bus; it asks the
 * person for the token and reads `/config.json` and `/events` with it.
 */
export function addDevPage(app: FastifyInstance): void {
  // Read once, when the bus starts: a few kilobytes, served from memory.
  const html = readFileSync(PAGE, 'utf8')
  const policy = contentSecurityPolicy(html)
  app.get('/', { config: OPEN_ROUTE }, (_request, reply) => {
    reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-security-policy', policy)
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
