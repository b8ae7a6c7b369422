import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { stringify } from 'yaml'
import { z } from 'zod'
import { ASYNCAPI_VERSION, asyncApiDocument, PAYLOAD_SCHEMA_FORMAT } from '../src/asyncapi.js'
import type { LandscapeContracts } from '../src/landscape-contracts.js'
import { assertValidAsyncApi, fromZod, message, sampleLandscape } from './asyncapi-helpers.js'

type Json = Record<string, any>

describe('asyncApiDocument', () => {
  test('gives a document the AsyncAPI parser takes without errors or warnings, as JSON and as YAML', async () => {
    const document = asyncApiDocument(sampleLandscape())
    await assertValidAsyncApi(JSON.stringify(document))
    await assertValidAsyncApi(stringify(document, { aliasDuplicateObjects: false }))
  })

  test('says the AsyncAPI version and the application from application.yml', () => {
    const document: Json = asyncApiDocument(sampleLandscape())
    assert.equal(document.asyncapi, ASYNCAPI_VERSION)
    assert.deepEqual(document.info, {
      title: 'shop',
      version: '1.2.0',
      description: 'A shop, for the tests',
    })
    assert.equal(document.defaultContentType, 'application/json')
  })

  test("an application without name or version is titled by its folder's name, version 0.0.0", async () => {
    const landscape: LandscapeContracts = {
      ...sampleLandscape(),
      name: undefined,
      description: undefined,
      version: undefined,
    }
    const document: Json = asyncApiDocument(landscape)
    assert.deepEqual(document.info, { title: 'shop', version: '0.0.0' })
    await assertValidAsyncApi(JSON.stringify(document))
  })

  test('has one channel per message name, addressed by the name, sorted, and a reply channel per request with outcomes', () => {
    const { channels }: Json = asyncApiDocument(sampleLandscape())
    assert.deepEqual(Object.keys(channels), [
      'audit.log',
      'passwords.hash',
      'passwords.hashed',
      'users.create',
      'users.create.replies',
      'users.list',
      'users.list.replies',
    ])
    assert.equal(channels['users.create'].address, 'users.create')
    // A reply goes back to whoever asked: no fixed address.
    assert.equal(channels['users.create.replies'].address, null)
    assert.deepEqual(Object.keys(channels['users.create.replies'].messages), [
      'users.create.users.created',
      'users.create.users.exists',
      'users.create.__error',
    ])
    assert.equal(
      channels['users.create.replies'].messages['users.create.users.created'].name,
      'users.created',
    )
  })

  test("a message's payload is the JSON Schema of its receiver's contract, with its schema format and without $schema", () => {
    const { channels }: Json = asyncApiDocument(sampleLandscape())
    const create = channels['users.create'].messages['users.create']
    assert.equal(create.name, 'users.create')
    // users (the receiver, valibot) wins over web (the sender, zod): valibot says minLength.
    assert.deepEqual(create.payload, {
      schemaFormat: PAYLOAD_SCHEMA_FORMAT,
      schema: {
        type: 'object',
        properties: { name: { type: 'string', minLength: 1 } },
        required: ['name'],
      },
    })
    assert.match(
      create.description,
      /valibot, from the contract of users \(users\/src\/contract\.ts\)/,
    )
    const created = channels['users.create.replies'].messages['users.create.users.created']
    assert.deepEqual(created.payload.schema.required, ['id', 'name'])
  })

  test('a message only its sender has a contract for takes the schema from that contract (zod)', async () => {
    const landscape = sampleLandscape()
    const [web, users, passwords] = landscape.services
    const withoutUsersContract: LandscapeContracts = {
      ...landscape,
      services: [web!, { ...users!, contract: undefined }, passwords!],
    }
    const document: Json = asyncApiDocument(withoutUsersContract)
    const create = document.channels['users.create'].messages['users.create']
    assert.deepEqual(create.payload.schema, {
      type: 'object',
      properties: { name: { type: 'string', minLength: 1 } },
      required: ['name'],
    })
    assert.match(create.description, /zod, from the contract of web \(web\/src\/contract\.ts\)/)
    await assertValidAsyncApi(JSON.stringify(document))
  })

  test('a message without payload has no payload and says so', () => {
    const { channels }: Json = asyncApiDocument(sampleLandscape())
    const list = channels['users.list'].messages['users.list']
    assert.equal(list.payload, undefined)
    assert.match(list.description, /carries no payload, says the contract of users/)
  })

  test('a schema without JSON Schema gives a message without payload whose description is the note', () => {
    const { channels }: Json = asyncApiDocument(sampleLandscape())
    const hash = channels['passwords.hash'].messages['passwords.hash']
    assert.equal(hash.payload, undefined)
    assert.match(
      hash.description,
      /^No JSON Schema for its payload in the contract of users \(users\/src\/contract\.ts\): /,
    )
    assert.match(hash.description, /custom-checks has no JSON Schema export: use a validator/)
  })

  test('a message no contract describes has no payload and says so', () => {
    const { channels }: Json = asyncApiDocument(sampleLandscape())
    const hashed = channels['passwords.hashed'].messages['passwords.hashed']
    assert.equal(hashed.payload, undefined)
    assert.match(hashed.description, /^No contract describes it/)
  })

  test('a recursive schema moves to components.schemas, its pointers rebased there', () => {
    const document: Json = asyncApiDocument(sampleLandscape())
    const listed = document.channels['users.list.replies'].messages['users.list.users.listed']
    assert.deepEqual(listed.payload, {
      schemaFormat: PAYLOAD_SCHEMA_FORMAT,
      schema: { $ref: '#/components/schemas/users.list.users.listed' },
    })
    const schema = document.components.schemas['users.list.users.listed']
    assert.equal(schema.$schema, undefined)
    assert.equal(
      schema.items.$ref,
      '#/components/schemas/users.list.users.listed/definitions/__schema0',
    )
    assert.ok(schema.definitions.__schema0)
  })

  test('each reply channel has the error reply: one shared message, { code, message, data?, service? }', async () => {
    const document: Json = asyncApiDocument(sampleLandscape())
    for (const request of ['users.create', 'users.list']) {
      assert.deepEqual(document.channels[`${request}.replies`].messages[`${request}.__error`], {
        $ref: '#/components/messages/exorelay.error',
      })
    }
    const error = document.components.messages['exorelay.error']
    assert.equal(error.name, '__error')
    assert.match(error.description, /EXORELAY_ERR_PAYLOAD_INVALID/)
    const schema = error.payload.schema
    assert.deepEqual(schema.required, ['code', 'message'])
    assert.deepEqual(Object.keys(schema.properties), ['code', 'message', 'data', 'service'])
    assert.deepEqual(schema.then.properties.data.required, ['issues', 'issueCount'])
    await assertValidAsyncApi(JSON.stringify(document))
    // A landscape with no request that has replies has no error message either.
    const none: Json = asyncApiDocument({
      ...sampleLandscape(),
      services: [
        { name: 'solo', description: undefined, receives: [], sends: ['x'], contract: undefined },
      ],
    })
    assert.equal(none.components, undefined)
  })

  test("ExoCom is the server: application.yml's bus port, else 3100", async () => {
    const document: Json = asyncApiDocument(sampleLandscape())
    assert.deepEqual(document.servers.exocom.host, 'localhost:{port}')
    assert.equal(document.servers.exocom.protocol, 'http')
    assert.equal(document.servers.exocom.variables.port.default, '3100')
    const onPort: Json = asyncApiDocument({ ...sampleLandscape(), busPort: 4200 })
    assert.equal(onPort.servers.exocom.variables.port.default, '4200')
    // Any free port is no port a document can name.
    const anyPort: Json = asyncApiDocument({ ...sampleLandscape(), busPort: 0 })
    assert.equal(anyPort.servers.exocom.variables.port.default, '3100')
    await assertValidAsyncApi(JSON.stringify(onPort))
  })

  test('each service sends and receives by operations with readable ids, in application order', () => {
    const { operations }: Json = asyncApiDocument(sampleLandscape())
    assert.deepEqual(Object.keys(operations), [
      'web.send.users.create',
      'web.send.users.list',
      'web.send.audit.log',
      'users.receive.users.create',
      'users.receive.users.list',
      // users.created, users.exists and users.listed are the replies of users' receives.
      'users.send.passwords.hash',
      'passwords.receive.passwords.hash',
      'passwords.send.passwords.hashed',
    ])
    assert.deepEqual(operations['web.send.users.create'], {
      action: 'send',
      channel: { $ref: '#/channels/users.create' },
      summary: 'web sends users.create.',
      messages: [{ $ref: '#/channels/users.create/messages/users.create' }],
      reply: {
        channel: { $ref: '#/channels/users.create.replies' },
        messages: [
          { $ref: '#/channels/users.create.replies/messages/users.create.users.created' },
          { $ref: '#/channels/users.create.replies/messages/users.create.users.exists' },
          { $ref: '#/channels/users.create.replies/messages/users.create.__error' },
        ],
      },
    })
    assert.equal(operations['users.receive.users.create'].action, 'receive')
    assert.deepEqual(
      operations['users.receive.users.create'].reply,
      operations['web.send.users.create'].reply,
    )
    assert.equal(operations['users.send.passwords.hash'].reply, undefined)
  })

  test('a message with no receiver has its channel and its send operation only', async () => {
    const document: Json = asyncApiDocument(sampleLandscape())
    const onAuditLog = Object.entries(document.operations)
      .filter(([, op]: [string, any]) => op.channel.$ref === '#/channels/audit.log')
      .map(([id]) => id)
    assert.deepEqual(onAuditLog, ['web.send.audit.log'])
    const auditLog = document.channels['audit.log']
    assert.equal(auditLog.address, 'audit.log')
    // Its sender's contract (arktype) says what it carries.
    assert.deepEqual(auditLog.messages['audit.log'].payload.schema, {
      type: 'object',
      properties: { event: { type: 'string' }, at: { type: 'number' } },
      required: ['event'],
    })
  })

  test('a service that lists the replies to its own request in receives gets them as the reply, not as an operation', async () => {
    const landscape = sampleLandscape()
    const [web, ...rest] = landscape.services
    const listing: LandscapeContracts = {
      ...landscape,
      services: [{ ...web!, receives: ['users.created', 'users.exists'] }, ...rest],
    }
    const { operations }: Json = asyncApiDocument(listing)
    assert.equal(Object.keys(operations).filter((id) => id.startsWith('web.receive')).length, 0)
  })

  test('names outside [A-Za-z0-9._-] are replaced in ids and clashing ids get -2', async () => {
    const landscape: LandscapeContracts = {
      file: '/apps/odd/application.yml',
      name: 'odd',
      description: undefined,
      version: undefined,
      services: [
        { name: 'a b', description: undefined, receives: [], sends: ['x'], contract: undefined },
        { name: 'a_b', description: undefined, receives: [], sends: ['x'], contract: undefined },
      ],
    }
    const document: Json = asyncApiDocument(landscape)
    assert.deepEqual(Object.keys(document.operations), ['a_b.send.x', 'a_b.send.x-2'])
    await assertValidAsyncApi(JSON.stringify(document))
  })

  test('the same landscape gives the same text, whatever order the contracts list their messages in', () => {
    const landscape = sampleLandscape()
    const reversed: LandscapeContracts = {
      ...landscape,
      services: landscape.services.map((service) =>
        service.contract === undefined
          ? service
          : {
              ...service,
              contract: {
                ...service.contract,
                messages: new Map([...service.contract.messages].reverse()),
              },
            },
      ),
    }
    const text = JSON.stringify(asyncApiDocument(landscape))
    assert.equal(JSON.stringify(asyncApiDocument(sampleLandscape())), text)
    assert.equal(JSON.stringify(asyncApiDocument(reversed)), text)
  })

  test('a landscape whose contracts cover nothing still gives a valid document', async () => {
    const landscape: LandscapeContracts = {
      file: '/apps/tiny/application.yml',
      name: undefined,
      description: undefined,
      version: undefined,
      services: [
        {
          name: 'solo',
          description: undefined,
          receives: ['solo.ping'],
          sends: ['solo.pong'],
          contract: {
            module: '/apps/tiny/solo/contract.ts',
            messages: new Map([['solo.other', message(fromZod(z.object({ n: z.number() })))]]),
          },
        },
      ],
    }
    await assertValidAsyncApi(JSON.stringify(asyncApiDocument(landscape)))
  })
})

test('the parser check fails on a document the parser finds wrong', async () => {
  const document: Json = asyncApiDocument(sampleLandscape())
  document.channels['users.create'].messages['users.create'].payload.schema.type = 'nonsense'
  await assert.rejects(assertValidAsyncApi(JSON.stringify(document)), /error .*"type" property/)
})
