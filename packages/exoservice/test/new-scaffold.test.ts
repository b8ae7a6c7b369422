import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdirSync, rmSync } from 'node:fs'
import { after, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { exoserviceNew, run } from './new-helpers.js'

// The promise of `exoservice new`: the service it writes passes its own test and its type
// check. The service is written inside the repository (in a gitignored folder, removed after),
// so that Node and tsc find exoservice, exorelay, @exorelay/testing, tsx and typescript in the
// workspace's node_modules by walking up, as they would in the service's own after
// `npm install`; release-check's registry test does the real install from a registry. Its
// scripts run through npm, as the printed next steps say.

const scratch = fileURLToPath(
  new URL(`.scaffold-${randomBytes(4).toString('hex')}/`, import.meta.url),
)
mkdirSync(scratch)
after(() => rmSync(scratch, { recursive: true, force: true }))

test('the new service passes its own test and tsc --noEmit', async (t) => {
  const written = await exoserviceNew(['greetings'], scratch)
  assert.equal(written.code, 0, written.stderr)
  const service = `${scratch}greetings`

  await t.test('npm test', async () => {
    const tested = await run('npm', ['test'], service, 90_000)
    assert.equal(tested.code, 0, `npm test failed:\n${tested.stdout}${tested.stderr}`)
    assert.match(tested.stdout, /^(# |ℹ )pass 2$/m)
    assert.match(tested.stdout, /^(# |ℹ )fail 0$/m)
  })

  await t.test('npm run typecheck', async () => {
    const checked = await run('npm', ['run', 'typecheck'], service, 90_000)
    assert.equal(checked.code, 0, `tsc failed:\n${checked.stdout}${checked.stderr}`)
  })
})
