import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, type TestContext, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type ExoComOptions, startExoCom } from '@exorelay/exocom'
import { findChromium } from '@exorelay/testing'
import { type Browser, chromium, type Page } from 'playwright-core'
import { ExoRelay } from '../src/index.js'

// The bus's dev page (GET /) in a real headless Chromium (Debian's package, which
// `exorelay-test-env setup` installs), against a real bus and two real relays. It lives here
// rather than in packages/exocom because the relays are this package's: exocom depending on
// exorelay, even for its tests, would make a cycle of the build graph.

const executablePath = findChromium()
// Every wait of the browser has a deadline; these are playwright's own, set on each page.
const BROWSER_TIMEOUT = 30_000
const PAGE_TIMEOUT = 15_000
const SCREENSHOT = fileURLToPath(
  new URL('../../../docs/images/exocom-dev-page.png', import.meta.url),
)
const HOSTILE_NAME = '<img src=x onerror=alert(1)>'

async function landscape(t: TestContext, options: ExoComOptions & { token?: string } = {}) {
  const bus = await startExoCom({ port: 0, logger: false, ...options })
  const relay = (serviceName: string) =>
    new ExoRelay({
      serviceName,
      exocomPort: bus.port,
      port: 0,
      logger: false,
      ...(options.token !== undefined && { token: options.token }),
    })
  const users = relay('users')
  const web = relay('web')
  t.after(async () => {
    await Promise.all([users.close(), web.close()])
    await bus.close()
  })
  users.registerHandler('users.create', (user: { name: string }, { reply }) =>
    reply('users.created', { id: 1, name: user.name }),
  )
  users.registerHandler('users.delete', () => {
    throw new Error('the database is down')
  })
  web.registerHandler(HOSTILE_NAME, () => {})
  await Promise.all([users.listen(), web.listen()])
  return { bus, users, web }
}

async function openPage(t: TestContext, url: string): Promise<{ page: Page; dialogs: string[] }> {
  const browser: Browser = await chromium.launch({
    // Only run when it was found: the suite is skipped otherwise.
    executablePath: executablePath ?? 'chromium',
    headless: true,
    timeout: BROWSER_TIMEOUT,
    // The test machine runs as root, in a container: Chromium's sandbox cannot start there.
    args: ['--no-sandbox'],
  })
  t.after(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } })
  page.setDefaultTimeout(PAGE_TIMEOUT)
  page.setDefaultNavigationTimeout(PAGE_TIMEOUT)
  const dialogs: string[] = []
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message())
    dialog.dismiss().catch(() => {})
  })
  await page.goto(`${url}/`)
  return { page, dialogs }
}

function exactly(text: string): RegExp {
  return new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`)
}

/** The row of the newest message named `name` in the page's list. */
function messageRow(page: Page, name: string) {
  return page
    .locator('#messages tbody tr')
    .filter({ has: page.locator('td:nth-child(3)', { hasText: exactly(name) }) })
    .first()
}

/** Resolves once the page reads the bus's event stream (its hello event arrived). */
async function connected(page: Page): Promise<void> {
  await page.locator('#status', { hasText: /^connected to ExoCom/ }).waitFor()
}

describe('the dev page in a real browser', {
  skip:
    executablePath === undefined &&
    'chromium is not installed: `exorelay-test-env setup` (npm test) installs it',
}, () => {
  test('shows the services, the routes and the messages; errors are marked; a request links to its reply; names stay text', async (t) => {
    const { bus, users, web } = await landscape(t)
    const { page, dialogs } = await openPage(t, bus.url)

    // Services and routes, from GET /config.json and refreshed on service events.
    await page.locator('#routes tr[data-route="users.create"]').waitFor()
    // The stream's hello comes once the page is a client of /events: only then is every
    // message it will be sent certain to show.
    await connected(page)
    await page.locator('#services tr[data-service="users"]').waitFor()
    await page.locator('#services tr[data-service="web"]').waitFor()
    const usersRow = await page.locator('#services tr[data-service="users"]').textContent()
    assert.match(usersRow ?? '', /online/)
    assert.match(usersRow ?? '', /users\.create/)
    assert.match(usersRow ?? '', /127\.0\.0\.1:\d+/)

    // A request and its reply.
    const reply = await web.send('users.create', { name: 'Will' }).envelope()
    assert.equal(reply.name, 'users.created')
    await messageRow(page, 'users.created').waitFor()
    const request = messageRow(page, 'users.create')
    // The bus hears users' answer to the delivery and the reply on two connections, in either
    // order: the request's row may show its outcome after the reply's row appeared.
    await request.locator('td', { hasText: exactly('delivered 200') }).waitFor()
    const cells = await request.locator('td').allTextContents()
    assert.deepEqual(cells.slice(1, 5), ['web', 'users.create', 'users', 'delivered 200'])

    // An error: a handler that throws answers with an __error reply.
    await assert.rejects(web.send('users.delete', { id: 1 }).envelope(), /the database is down/)
    await messageRow(page, '__error').waitFor()
    assert.match((await messageRow(page, '__error').getAttribute('class')) ?? '', /error/)
    assert.doesNotMatch((await request.getAttribute('class')) ?? '', /error/)

    // A hostile name is a name: text in the list, no element made of it, no script run.
    // Nobody replies to it: the send is not awaited (close() ends it).
    users.send(HOSTILE_NAME).catch(() => {})
    await messageRow(page, HOSTILE_NAME).waitFor()
    assert.equal(await page.locator('main img').count(), 0)
    assert.equal(
      await messageRow(page, HOSTILE_NAME).locator('td:nth-child(3)').textContent(),
      HOSTILE_NAME,
    )

    // The list holds still while the pointer is on it, says what came meanwhile, then shows it.
    const rows = page.locator('#messages tbody tr')
    const before = await rows.count()
    await page.locator('#messages').hover()
    await web.send('users.create', { name: 'Grace' }).envelope()
    await page.locator('#paused', { hasText: '2 new' }).waitFor()
    assert.equal(await rows.count(), before)
    await page.mouse.move(0, 0)
    await rows.nth(before + 1).waitFor()
    assert.equal(await page.locator('#paused').isVisible(), false)

    // The conversation of the request: itself, then its reply, with each hop's time.
    await request.click()
    const conversation = page.locator('#conversation ol > li')
    await conversation.nth(1).waitFor()
    assert.equal(await conversation.count(), 2)
    assert.match(
      (await conversation.nth(0).textContent()) ?? '',
      /web --\[ users\.create \]-> users/,
    )
    assert.match(
      (await conversation.nth(0).textContent()) ?? '',
      /users: delivered \d+ in [\d.]+ ms/,
    )
    assert.match(
      (await conversation.nth(1).textContent()) ?? '',
      /users --\[ users\.created \]-> web/,
    )
    assert.match((await conversation.nth(1).textContent()) ?? '', /\+\d+ ms after the request/)

    // The filter keeps the rows whose message or service names match.
    await page.locator('#filter').fill('delete')
    await page.locator('#messages tbody tr').first().waitFor()
    const filtered = await page.locator('#messages tbody td:nth-child(3)').allTextContents()
    assert.ok(filtered.length > 0)
    assert.ok(filtered.every((name) => name === 'users.delete'))
    await page.locator('#filter').fill('')
    await page.mouse.move(0, 0)

    assert.deepEqual(dialogs, [])
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true })
    // The docs keep a current one; each run writes its own to the temporary directory.
    const path = process.env.EXORELAY_UPDATE_SCREENSHOT
      ? SCREENSHOT
      : join(tmpdir(), 'exocom-dev-page.png')
    await page.screenshot({ path, fullPage: true })
  })

  test('a message to nobody shows as an error', async (t) => {
    const { bus, web } = await landscape(t)
    const { page } = await openPage(t, bus.url)
    await page.locator('#routes tr[data-route="users.create"]').waitFor()
    // The stream's hello comes once the page is a client of /events: only then is every
    // message it will be sent certain to show.
    await connected(page)
    await web.send('nobody.listens').catch(() => {})
    const row = messageRow(page, 'nobody.listens')
    await row.waitFor()
    await page.locator('#messages tbody tr.error').first().waitFor()
    assert.match((await row.textContent()) ?? '', /no-receiver/)
  })

  test('with a token on the bus the page asks for it, keeps it for the tab, and then works', async (t) => {
    const token = 'page-test-token'
    const { bus, web } = await landscape(t, { token })
    const { page } = await openPage(t, bus.url)

    await page.locator('#login').waitFor()
    assert.equal(await page.locator('#app').isVisible(), false)
    await page.locator('#token').fill('a-wrong-token')
    await page.locator('#login button').click()
    await page.locator('#login-reason', { hasText: 'refused this token' }).waitFor()

    await page.locator('#token').fill(token)
    await page.locator('#login button').click()
    await page.locator('#routes tr[data-route="users.create"]').waitFor()
    // The stream's hello comes once the page is a client of /events: only then is every
    // message it will be sent certain to show.
    await connected(page)
    await web.send('users.create', { name: 'Ada' }).envelope()
    await messageRow(page, 'users.created').waitFor()
    assert.equal(await page.evaluate(() => sessionStorage.getItem('exocom-token')), token)
    // The token is nowhere in the page itself.
    assert.doesNotMatch(await page.content(), new RegExp(token))
  })
})
