import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { DiagnosticSeverity, Parser } from '@asyncapi/parser'
import {
  asyncApiDocument,
  checkLandscape,
  formatFindings,
  type LandscapeContracts,
  loadLandscapeContracts,
  readApplicationFile,
} from 'exoservice'
import { parse } from 'yaml'

// The services' contracts, read as `exoservice check` and `exoservice asyncapi` read them: each
// service.yml names its contract module, which is imported (through tsx) and exported as JSON
// Schema.

const applicationFile = fileURLToPath(new URL('../../application.yml', import.meta.url))
const asyncApiFile = fileURLToPath(new URL('../../asyncapi.yaml', import.meta.url))
const REGENERATE = 'npm run asyncapi -w @exorelay-examples/landscape'

let landscape: LandscapeContracts

before(async () => {
  landscape = await loadLandscapeContracts(await readApplicationFile(applicationFile))
})

test('exoservice check finds nothing in the example landscape: each message has a sender and a receiver, and the contracts agree', () => {
  assert.deepEqual(
    landscape.services.map(({ name, contract }) => [name, contract !== undefined]),
    [
      ['web', true],
      ['users', true],
      ['passwords', true],
    ],
    'every service names its contract in service.yml',
  )
  const findings = checkLandscape(landscape)
  assert.deepEqual(findings, [], formatFindings(findings, landscape.services.length))
})

test(`docs/examples/asyncapi.yaml is the landscape's AsyncAPI document (${REGENERATE} writes it)`, async () => {
  const committed: unknown = parse(await readFile(asyncApiFile, 'utf8'))
  // Through JSON, as the file holds it: no undefined fields, no Map or class instances.
  const generated: unknown = JSON.parse(JSON.stringify(asyncApiDocument(landscape)))
  assert.deepEqual(
    committed,
    generated,
    `docs/examples/asyncapi.yaml is out of date with the services' contracts. Regenerate it: ${REGENERATE}`,
  )
})

test('docs/examples/asyncapi.yaml passes the AsyncAPI parser without an error or a warning', async () => {
  const { document, diagnostics } = await new Parser().parse(await readFile(asyncApiFile, 'utf8'))
  const serious = diagnostics
    .filter(({ severity }) => severity <= DiagnosticSeverity.Warning)
    .map(
      ({ severity, code, path, message }) =>
        `${DiagnosticSeverity[severity]} ${code} at ${path.join('/')}: ${message}`,
    )
  assert.deepEqual(serious, [])
  assert.ok(document !== undefined, 'the parser gives a document')
})
