import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { readApplicationFile } from '../src/application-file.js'
import { ExoServiceErrorCodes } from '../src/errors.js'
import { exportJsonSchema } from '../src/json-schema.js'
import { checkLandscape, formatFindings } from '../src/landscape-check.js'
import {
  type ContractService,
  type LandscapeContracts,
  loadLandscapeContracts,
} from '../src/landscape-contracts.js'
import { loadContract } from '../src/load-contract.js'
import { parseServiceFile } from '../src/service-file.js'

/** The application file of a landscape under test/fixtures/check/. */
function fixture(name: string): string {
  return fileURLToPath(new URL(`fixtures/check/${name}/application.yml`, import.meta.url))
}

async function load(name: string): Promise<LandscapeContracts> {
  return loadLandscapeContracts(await readApplicationFile(fixture(name)))
}

test('equal schemas from different modules and validators (zod, valibot, arktype): no findings, a zod object and a valibot object included', async () => {
  const landscape = await load('agree')
  assert.equal(landscape.name, 'agree')
  // Taken as written, not as the number 1.1.
  assert.equal(landscape.version, '1.10')
  assert.deepEqual(
    landscape.services.map(({ name, contract }) => [name, contract?.module]),
    ['web', 'users', 'passwords'].map((name) => [
      name,
      fileURLToPath(new URL(`fixtures/check/agree/${name}/contract.ts`, import.meta.url)),
    ]),
  )
  const hash = (service: number) =>
    landscape.services[service]!.contract!.messages.get('passwords.hash')!
  assert.deepEqual(hash(1).payload, {
    vendor: 'valibot',
    jsonSchema: {
      type: 'object',
      properties: { password: { type: 'string' } },
      required: ['password'],
    },
  })
  assert.equal(hash(2).payload?.vendor, 'arktype')
  assert.deepEqual([...hash(2).replies.keys()], ['passwords.hashed'])
  assert.equal(
    landscape.services[0]!.contract!.messages.get('users.create')!.payload?.vendor,
    'zod',
  )
  assert.deepEqual(checkLandscape(landscape), [])
  assert.equal(formatFindings([], 3), 'no findings in 3 services\n')
})

test('one finding of each kind, each naming the message, the services and the modules', async () => {
  const findings = checkLandscape(await load('disagree'))
  assert.deepEqual(
    findings.map(({ code, messageName, services }) => [code, messageName, services]),
    [
      ['schema-mismatch', 'users.create', ['web', 'users']],
      ['not-comparable', 'users.create', ['web', 'users']],
      ['no-sender', 'users.delete', ['users']],
      ['not-in-contract', 'users.delete', ['users']],
      ['no-receiver', 'users.list', ['web']],
    ],
  )
  assert.equal(
    formatFindings(findings, 2),
    `users.create  web → users  schema-mismatch: payload differs at properties.name.type: "string" in web/contract.ts, "number" in users/contract.ts
users.create  web → users  not-comparable: outcome 'users.created' not compared: users/contract.ts: valibot could not export it as JSON Schema: The "custom" schema cannot be converted to JSON Schema. Describe the data without it, or accept that it is not compared.
users.delete  users        no-sender: users receives it, but no service sends it
users.delete  users        not-in-contract: users receives it, but its contract users/contract.ts does not define it (nor lists it under replies of a message it sends)
users.list    web          no-receiver: web sends it, but no service receives it
5 findings in 2 services
`,
  )
})

test('a zod and a valibot contract of the same data, and replies listed under receives: no findings', async () => {
  // Before, the order of fields and enum values, an optional field, an integer, a nullable, a
  // literal, a default and an email each made a schema-mismatch, and web's receives a
  // not-in-contract.
  assert.deepEqual(checkLandscape(await load('same-data')), [])
})

test('a difference is printed as compared: normalised on both sides', () => {
  const landscape = (payload: (name: string) => Record<string, unknown>) =>
    ['web', 'users'].map((name, index) => {
      const built = service(
        name,
        index === 0 ? [] : ['users.create'],
        index === 0 ? ['users.create'] : [],
        {
          'users.create': [],
        },
      )
      built.contract!.messages.get('users.create')!.payload = {
        jsonSchema: payload(name),
        vendor: 'zod',
      }
      return built
    })
  const findings = checkLandscape({
    file: '/app/application.yml',
    name: undefined,
    description: undefined,
    version: undefined,
    services: landscape((name) => ({
      type: 'object',
      properties: { a: { type: 'string' }, b: { type: 'string' }, c: { type: 'string' } },
      required: name === 'web' ? ['c', 'b', 'a'] : ['a', 'b'],
    })),
  })
  assert.deepEqual(
    findings.map(({ text }) => text),
    ['payload differs at required.2: "c" in web/contract.ts, nothing in users/contract.ts'],
  )
})

/** A service of a hand-built landscape. */
function service(
  name: string,
  receives: string[],
  sends: string[],
  contract?: Record<string, string[]>,
): ContractService {
  const schema = { jsonSchema: { type: 'object' }, vendor: 'zod' }
  return {
    name,
    description: undefined,
    receives,
    sends,
    contract:
      contract === undefined
        ? undefined
        : {
            module: `/app/${name}/contract.ts`,
            messages: new Map(
              Object.entries(contract).map(([message, outcomes]) => [
                message,
                { payload: schema, replies: new Map(outcomes.map((outcome) => [outcome, schema])) },
              ]),
            ),
          },
  }
}

function check(...services: ContractService[]) {
  return checkLandscape({
    file: '/app/application.yml',
    name: undefined,
    description: undefined,
    version: undefined,
    services,
  }).map(({ code, messageName }) => `${code} ${messageName}`)
}

test('a reply outcome is no message without a receiver, wherever the contract that lists it is', () => {
  // users has no contract; web's, the sender's, says what users.create's replies are.
  assert.deepEqual(
    check(
      service('web', [], ['users.create'], { 'users.create': ['users.created'] }),
      service('users', ['users.create'], ['users.created', 'users.gone']),
    ),
    ['no-receiver users.gone'],
  )
  // With its own contract, an outcome it lists is no finding, and one it does not list is two.
  assert.deepEqual(
    check(
      service('web', [], ['users.create']),
      service('users', ['users.create'], ['users.created', 'users.gone'], {
        'users.create': ['users.created'],
      }),
    ),
    ['no-receiver users.gone', 'not-in-contract users.gone'],
  )
})

test('a reply listed under receives by the requester: no no-sender, no not-in-contract (as in the AsyncAPI document)', () => {
  assert.deepEqual(
    check(
      service('web', ['users.created', 'users.gone'], ['users.create'], {
        'users.create': ['users.created'],
      }),
      service('users', ['users.create'], []),
    ),
    ['no-sender users.gone', 'not-in-contract users.gone'],
  )
})

test('without any contract, what a service that receives sends may be a reply: not reported', () => {
  assert.deepEqual(
    check(
      service('web', [], ['users.create', 'users.typo']),
      service('users', ['users.create'], ['users.created']),
    ),
    ['no-receiver users.typo'],
  )
})

test('two services with the same contract module are not compared', () => {
  const shared = (name: string, receives: string[], sends: string[]): ContractService => {
    const built = service(name, receives, sends, { 'users.create': [] })
    return { ...built, contract: { ...built.contract!, module: '/app/contract.ts' } }
  }
  assert.deepEqual(
    check(shared('web', [], ['users.create']), shared('users', ['users.create'], [])),
    [],
  )
})

test('a contract module that exports no contract is refused, naming the module and the fix', async () => {
  await assert.rejects(load('no-contract'), (error: { code: string; message: string }) => {
    assert.equal(error.code, ExoServiceErrorCodes.CONTRACT)
    assert.match(
      error.message,
      /no-contract\/users\/contract\.ts: \S+service\.yml names it as the contract, but its `contract` export is an object with messages, not made by defineContract\. Export one as `export const contract = defineContract\(\{ \.\.\. \}\)` \(or as the default\)\.$/,
    )
    return true
  })
})

/** A temporary service folder, removed after the test, and its service.yml naming `contract`. */
async function contractFolder(t: TestContext) {
  const folder = await mkdtemp(join(tmpdir(), 'exoservice-contract-'))
  t.after(() => rm(folder, { recursive: true, force: true }))
  const named = (contract: string) =>
    parseServiceFile(
      `type: users\nmessages:\n  contract: ${contract}\n`,
      join(folder, 'service.yml'),
    )
  return { folder, named }
}

test('a contract module that is missing, or throws, is refused with EXOSERVICE_ERR_CONTRACT', async (t) => {
  const { folder, named } = await contractFolder(t)
  await assert.rejects(loadContract(named('src/contract.ts')), {
    code: ExoServiceErrorCodes.CONTRACT,
    message: `${join(folder, 'service.yml')}: \`contract: src/contract.ts\` names a module that does not exist (${join(folder, 'src/contract.ts')}). Fix the path (it is relative to the service folder), or create the module.`,
  })
  await writeFile(join(folder, 'broken.mjs'), "throw new Error('no database')\n")
  await assert.rejects(loadContract(named('broken.mjs')), {
    code: ExoServiceErrorCodes.CONTRACT,
    message: `${join(folder, 'broken.mjs')}: the module threw while loading: no database. Fix the error in the module (or in what it imports).`,
  })
  await writeFile(join(folder, 'empty.mjs'), 'export const other = 1\n')
  await assert.rejects(loadContract(named('empty.mjs')), {
    code: ExoServiceErrorCodes.CONTRACT,
    message: /but it exports neither `contract` nor a default, not a contract\./,
  })
  // A contract written by hand, not by defineContract.
  await writeFile(join(folder, 'plain.mjs'), 'export const contract = { messages: {} }\n')
  await assert.rejects(loadContract(named('plain.mjs')), {
    code: ExoServiceErrorCodes.CONTRACT,
    message:
      /but its `contract` export is an object with messages, not made by defineContract\. Export one as/,
  })
})

test('a contract module that does not parse is refused naming where: file, line (and column from tsx)', async (t) => {
  const { folder, named } = await contractFolder(t)
  await writeFile(join(folder, 'cut.mjs'), 'const a = 1\nexport const contract = {\n')
  await assert.rejects(loadContract(named('cut.mjs')), {
    code: ExoServiceErrorCodes.CONTRACT,
    message: `${join(folder, 'cut.mjs')}: the module does not parse: Unexpected end of input at ${join(folder, 'cut.mjs')}:3. Fix the syntax error there.`,
  })
  await writeFile(join(folder, 'cut.ts'), 'const a: number = 1\nexport const contract = {\n')
  await assert.rejects(loadContract(named('cut.ts')), {
    code: ExoServiceErrorCodes.CONTRACT,
    message: new RegExp(
      `^${escapeRegExp(join(folder, 'cut.ts'))}: the module does not parse: .+ at ${escapeRegExp(join(folder, 'cut.ts'))}:3:0\\. Fix the syntax error there\\.$`,
    ),
  })
  // A SyntaxError thrown while running is no syntax error of the module.
  await writeFile(join(folder, 'json.mjs'), "JSON.parse('{')\n")
  await assert.rejects(loadContract(named('json.mjs')), {
    code: ExoServiceErrorCodes.CONTRACT,
    message: /json\.mjs: the module threw while loading: /,
  })
})

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

test('a schema without a JSON Schema export gets a note naming the fix', async () => {
  const bare = {
    '~standard': { version: 1, vendor: 'homemade', validate: () => ({ value: 1 }) },
  } as const
  assert.deepEqual(await exportJsonSchema(bare, tmpdir()), {
    vendor: 'homemade',
    note: 'homemade has no JSON Schema export (Standard JSON Schema): use a validator that has one (zod 4, arktype 2, or valibot with @valibot/to-json-schema) for the messages other services share.',
  })
  // valibot, in a folder from which its exporter does not resolve.
  const valibot = { '~standard': { ...bare['~standard'], vendor: 'valibot' } } as const
  assert.deepEqual(await exportJsonSchema(valibot, '/'), {
    vendor: 'valibot',
    note: 'valibot exports JSON Schema through @valibot/to-json-schema, which the service does not have: install it in the service (npm install @valibot/to-json-schema).',
  })
})
