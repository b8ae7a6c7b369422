import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ErrorCodes, isExoRelayError } from '@exorelay/core'
import type { ServiceRegistration } from '@exorelay/http-protocol'
import {
  RoutingTable,
  toInternalName,
  toListedPublicName,
  toPublicName,
  validateService,
  validateServices,
} from '../src/routing-table.js'

const users: ServiceRegistration = {
  name: 'users',
  host: '127.0.0.1',
  port: 4001,
  receives: ['users.create'],
}
const tweets: ServiceRegistration = {
  name: 'tweets',
  internalNamespace: 'text-snippets',
  host: '127.0.0.1',
  port: 4002,
  receives: ['tweets.create'],
}
const web: ServiceRegistration = { name: 'web', host: '127.0.0.1', port: 4000, receives: [] }

function receiversOf(table: RoutingTable, sender: string, name: string, responseTo?: string) {
  return table
    .route(sender, name, responseTo)
    .deliveries.map((d) => `${d.service.name}:${d.internalName}`)
}

describe('translation', () => {
  test('a name in the sender internal namespace becomes the public name of the sender', () => {
    assert.equal(toPublicName('text-snippets.created', tweets), 'tweets.created')
  })

  test('names without a dot, outside the namespace, or from a sender without one pass unchanged', () => {
    assert.equal(toPublicName('created', tweets), 'created')
    assert.equal(toPublicName('users.create', tweets), 'users.create')
    assert.equal(toPublicName('text-snippetsX.created', tweets), 'text-snippetsX.created')
    assert.equal(toPublicName('users.created', users), 'users.created')
    assert.equal(toPublicName('users.created', undefined), 'users.created')
  })

  test('a name a namespaced service lists stands for its own public name, whatever its first segment', () => {
    // The original's rule: `tweets` lists `text-snippet.create` (its service.yml's name).
    assert.equal(toListedPublicName('text-snippet.create', tweets), 'tweets.create')
    assert.equal(toListedPublicName('text-snippets.create', tweets), 'tweets.create')
    assert.equal(toListedPublicName('users.created', tweets), 'tweets.created')
    // Three-part names keep their tail (the original cut it).
    assert.equal(toListedPublicName('text-snippet.create.now', tweets), 'tweets.create.now')
  })

  test('listed names already public, without a dot, or of a service without a namespace stay', () => {
    assert.equal(toListedPublicName('tweets.create', tweets), 'tweets.create')
    assert.equal(toListedPublicName('ping', tweets), 'ping')
    assert.equal(toListedPublicName('text-snippet.create', users), 'text-snippet.create')
  })

  test('a public name reaches a receiver with a namespace with the part before the first dot replaced', () => {
    assert.equal(toInternalName('tweets.create', tweets), 'text-snippets.create')
    assert.equal(toInternalName('tweets.create.now', tweets), 'text-snippets.create.now')
    assert.equal(toInternalName('ping', tweets), 'ping')
    assert.equal(toInternalName('tweets.create', users), 'tweets.create')
  })
})

describe('RoutingTable', () => {
  test('routes a public name to every service that receives it, translated for each', () => {
    const audit = { ...users, name: 'audit', port: 4003, receives: ['tweets.create'] }
    const table = new RoutingTable([users, tweets, audit])

    assert.deepEqual(receiversOf(table, 'web', 'tweets.create'), [
      'tweets:text-snippets.create',
      'audit:tweets.create',
    ])
    assert.deepEqual(receiversOf(table, 'web', 'nobody.listens'), [])
  })

  test('routes the public name of what a namespaced service lists in its own names', () => {
    const own = {
      ...tweets,
      receives: ['text-snippet.create', 'tweets.create', 'text-snippet.x.y'],
    }
    const table = new RoutingTable([own, users])

    assert.deepEqual(receiversOf(table, 'web', 'tweets.create'), ['tweets:text-snippets.create'])
    assert.deepEqual(receiversOf(table, 'web', 'tweets.x.y'), ['tweets:text-snippets.x.y'])
    assert.deepEqual(receiversOf(table, 'web', 'text-snippet.create'), [])
    assert.deepEqual(Object.keys(table.config().routes), [
      'tweets.create',
      'tweets.x.y',
      'users.create',
    ])
  })

  test('routes what a namespaced sender sends under the public name', () => {
    const table = new RoutingTable([tweets, { ...web, receives: ['tweets.created'] }])

    const route = table.route('tweets', 'text-snippets.created')

    assert.equal(route.publicName, 'tweets.created')
    assert.deepEqual(receiversOf(table, 'tweets', 'text-snippets.created'), ['web:tweets.created'])
  })

  test('routes a reply to the remembered requester once, even when it also receives the name', () => {
    const table = new RoutingTable([users, web])
    table.remember('req-1', 'web')

    assert.deepEqual(receiversOf(table, 'users', 'users.created', 'req-1'), ['web:users.created'])

    table.register({ ...web, receives: ['users.created'] })
    assert.deepEqual(receiversOf(table, 'users', 'users.created', 'req-1'), ['web:users.created'])
  })

  test('does not route a reply to a requester that is no longer registered', () => {
    const table = new RoutingTable([users, web])
    table.remember('req-1', 'web')
    table.remove('web')

    assert.deepEqual(receiversOf(table, 'users', 'users.created', 'req-1'), [])
  })

  test('each delivery names the receiver origin and its URL-encoded /run path', () => {
    const odd = { ...users, name: 'odd', host: '::1', port: 4005, receives: ['a b/c'] }
    const table = new RoutingTable([odd, tweets])

    assert.deepEqual(
      table.route('web', 'a b/c').deliveries.map(({ origin, path }) => ({ origin, path })),
      [{ origin: 'http://[::1]:4005', path: '/run/a%20b%2Fc' }],
    )
    assert.deepEqual(
      table.route('web', 'tweets.create').deliveries.map(({ origin, path }) => ({ origin, path })),
      [{ origin: 'http://127.0.0.1:4002', path: '/run/text-snippets.create' }],
    )
  })

  test('a reply route follows the requester when it registers again at another address', () => {
    const table = new RoutingTable([users, web])
    table.remember('req-1', 'web')
    const first = table.route('users', 'users.created', 'req-1')
    assert.equal(table.route('users', 'users.created', 'req-1').deliveries, first.deliveries)

    table.register({ ...web, port: 4100 })

    const [moved] = table.route('users', 'users.created', 'req-1').deliveries
    assert.equal(moved?.origin, 'http://127.0.0.1:4100')
    assert.equal(moved?.path, '/run/users.created')
  })

  test('always remembers the last ids up to its limit, and forgets older ones a generation at a time', () => {
    const table = new RoutingTable([users, web, { ...web, name: 'admin', port: 4009 }], {
      rememberedSenders: 2,
    })
    const sent = ['a', 'b', 'c', 'd', 'e']
    for (const id of sent) table.remember(id, id === 'c' ? 'admin' : 'web')

    // The last two are always known; ids more than twice the limit back are forgotten.
    assert.deepEqual(
      sent.map((id) => table.senderOf(id)),
      [undefined, undefined, 'admin', 'web', 'web'],
    )
    assert.deepEqual(receiversOf(table, 'users', 'users.created', 'c'), ['admin:users.created'])
    assert.deepEqual(receiversOf(table, 'users', 'users.created', 'a'), [])
  })

  test('an id sent again counts as new', () => {
    const table = new RoutingTable([users, web], { rememberedSenders: 2 })
    table.remember('a', 'web')
    table.remember('b', 'web')
    table.remember('a', 'users') // reused: the newest sender counts, in the newest generation
    table.remember('c', 'web')
    table.remember('d', 'web') // the generation of b and the first a is dropped

    assert.equal(table.senderOf('a'), 'users')
    assert.equal(table.senderOf('b'), undefined)
    assert.equal(new RoutingTable([], { rememberedSenders: 0 }).senderOf('a'), undefined)
  })

  test('a new table drops every earlier configured receiver', () => {
    const table = new RoutingTable([users])
    table.configure([users])
    table.configure([tweets])

    assert.deepEqual(Object.keys(table.config().routes), ['tweets.create'])
    assert.deepEqual(receiversOf(table, 'web', 'users.create'), [])
  })

  test('a new table keeps the services that registered themselves and are not in it', () => {
    const table = new RoutingTable([users])
    table.register({ ...web, receives: ['users.created'] })

    const kept = table.configure([tweets])

    assert.deepEqual(kept, ['web'])
    assert.deepEqual(Object.keys(table.config().services), ['tweets', 'web'])
    assert.equal(table.config().services.web?.source, 'self-registered')
    assert.equal(table.config().services.tweets?.source, 'configured')
    assert.deepEqual(receiversOf(table, 'tweets', 'text-snippets.created'), [])
    assert.deepEqual(receiversOf(table, 'users', 'users.created'), ['web:users.created'])
  })

  test('a new table drops a self-registered service that missed three registrations', () => {
    let now = 0
    const table = new RoutingTable([], { now: () => now })
    table.register(web)
    table.register(users)

    now = 15_000 // three of a relay's default 5-second intervals
    table.register(users) // alive: registered again
    now += 1
    assert.deepEqual(table.configure([]), ['users'])

    assert.equal(table.has('web'), false, 'a relay that stopped registering was kept')
    assert.equal(table.config().services.users?.source, 'self-registered')
  })

  test('a table that names a self-registered service replaces its entry until it registers again', () => {
    const table = new RoutingTable()
    table.register(web)

    assert.deepEqual(table.configure([{ ...web, port: 4100 }]), [])
    assert.equal(table.config().services.web?.port, 4100)
    assert.equal(table.config().services.web?.source, 'configured')
    // Configured now: the next table without it drops it.
    table.configure([])
    assert.equal(table.has('web'), false)

    table.register(web)
    table.remove('web')
    table.configure([])
    assert.equal(table.has('web'), false, 'a withdrawn service came back')
  })

  test('a service listing a name twice receives it once', () => {
    const table = new RoutingTable([{ ...users, receives: ['users.create', 'users.create'] }])

    assert.deepEqual(receiversOf(table, 'web', 'users.create'), ['users:users.create'])
  })

  test('config keeps names like __proto__ as ordinary keys', () => {
    const table = new RoutingTable([{ ...users, name: '__proto__', receives: ['__proto__'] }])

    const config = table.config()

    assert.ok(Object.hasOwn(config.services, '__proto__'))
    assert.equal(Object.getPrototypeOf(config.routes), Object.prototype)
    assert.match(
      JSON.stringify(config.routes),
      /^\{"__proto__":\{"receivers":\[\{"name":"__proto__"/,
    )
  })
})

describe('validateServices', () => {
  function rejects(input: unknown, pattern: RegExp): void {
    assert.throws(
      () => validateServices(input),
      (error) => isExoRelayError(error, ErrorCodes.INVALID_OPTION) && pattern.test(error.message),
    )
  }

  test('accepts a table and copies only the known keys, treating a null or empty namespace as none', () => {
    const valid = validateServices([
      { ...users, sends: ['users.created'], extra: 'dropped' },
      { ...web, internalNamespace: null },
      { ...web, name: 'admin', internalNamespace: '' },
    ])

    assert.deepEqual(valid, [
      { ...users, sends: ['users.created'] },
      web,
      { ...web, name: 'admin' },
    ])
  })

  test('accepts sends and receives in a namespaced service own names, as given', () => {
    const listed = { ...tweets, receives: ['text-snippet.create'], sends: ['text-snippet.created'] }

    assert.deepEqual(validateServices([listed]), [listed])
  })

  test('keeps a boolean batches, and refuses anything else', () => {
    assert.deepEqual(
      validateServices([
        { ...users, batches: true },
        { ...web, batches: false },
      ]),
      [
        { ...users, batches: true },
        { ...web, batches: false },
      ],
    )
    rejects(
      [{ ...users, batches: 'true' }],
      /Service entry 0 \('users'\) has a 'batches' that is not a boolean, got 'true'/,
    )
    rejects([{ ...users, batches: null }], /'batches'.*null/)
  })

  test('names the entry and field that is wrong', () => {
    rejects({}, /must be a JSON array/)
    rejects([null], /Service entry 0 must be an object/)
    rejects([{ ...users, name: '' }], /Service entry 0 needs a 'name'/)
    rejects([users, { ...web, host: 7 }], /Service entry 1 \('web'\) needs a 'host'.*number 7/)
    rejects([{ ...users, port: 0 }], /'users'.*'port'.*number 0/)
    rejects([{ ...users, port: '4001' }], /'port'.*'4001'/)
    rejects([{ ...users, receives: 'users.create' }], /'receives' that is not an array/)
    rejects([{ ...users, receives: undefined }], /needs 'receives'/)
    rejects([{ ...users, receives: ['ok', ''] }], /'receives' entry 1 .*must not be empty/)
    rejects([{ ...users, sends: [1] }], /'sends' entry 0/)
    rejects([{ ...users, internalNamespace: 'a.b' }], /'internalNamespace'.*'a\.b'/)
    rejects([{ ...users, internalNamespace: 7 }], /'internalNamespace'.*number 7/)
    rejects([{ ...users, internalNamespace: '.' }], /'internalNamespace'.*'\.'/)
    rejects([users, users], /entries 0 and 1 both have the name 'users'/)
  })

  test('a single registration is checked the same way', () => {
    assert.deepEqual(validateService(tweets, 'The registration'), tweets)
    assert.throws(
      () => validateService({ ...tweets, port: 1.5 }, 'The registration'),
      (error) =>
        isExoRelayError(error, ErrorCodes.INVALID_OPTION) &&
        /The registration \('tweets'\)/.test(error.message),
    )
  })
})

describe('a registration costs what it changes', () => {
  test('the same registration again rebuilds nothing: every route stays the same object', () => {
    const table = new RoutingTable()
    table.register(users)
    table.register(web)
    const before = table.route('web', 'users.create').deliveries

    assert.equal(table.register({ ...users, receives: ['users.create'] }), 'unchanged')
    assert.equal(table.route('web', 'users.create').deliveries, before)
  })

  test('a changed registration re-indexes that service alone', () => {
    const table = new RoutingTable()
    table.register(users)
    table.register({ ...tweets, receives: ['tweets.create'] })
    const tweetsRoute = table.route('web', 'tweets.create').deliveries

    assert.equal(
      table.register({ ...users, receives: ['users.create', 'users.delete'] }),
      'changed',
    )

    // The other service's routes are untouched; the changed one's are new.
    assert.equal(table.route('web', 'tweets.create').deliveries, tweetsRoute)
    assert.deepEqual(receiversOf(table, 'web', 'users.delete'), ['users:users.delete'])
    assert.equal(table.register({ ...users, receives: ['users.delete'] }), 'changed')
    assert.deepEqual(receiversOf(table, 'web', 'users.create'), [])
    assert.deepEqual(Object.keys(table.config().routes).sort(), ['tweets.create', 'users.delete'])
    table.remove('users')
    assert.deepEqual(Object.keys(table.config().routes), ['tweets.create'])
  })

  test('a service configured by a table that then registers itself the same is re-indexed once, as self-registered', () => {
    const table = new RoutingTable([users])
    assert.equal(table.register(users), 'changed')
    assert.equal(table.config().services.users?.source, 'self-registered')
    assert.equal(table.register(users), 'unchanged')
  })

  test('the id-to-sender memory is bounded in bytes: long ids and senders are forgotten sooner', () => {
    const table = new RoutingTable([users, web])
    const sender = 's'.repeat(256)
    const id = (n: number) => `${String(n).padStart(8, '0')}${'i'.repeat(248)}`
    // Each entry weighs about 1.1 KB: 100,000 of them would be 110 MB.
    for (let n = 0; n < 100_000; n++) table.remember(id(n), sender)

    assert.equal(table.senderOf(id(99_999)), sender)
    assert.equal(table.senderOf(id(0)), undefined, 'the oldest long entry was kept')
    // Short entries as relays send them: the last 100,000 are always known.
    for (let n = 0; n < 100_000; n++)
      table.remember(`${n}-4f1c2a9e-7b3d-4c55-9a0e-1d2b3c4d5e6f`, 'web')
    assert.equal(table.senderOf('0-4f1c2a9e-7b3d-4c55-9a0e-1d2b3c4d5e6f'), 'web')
  })
})

describe('services that stop registering', () => {
  test('expire() drops a self-registered service after three missed registrations of its own interval', () => {
    let now = 0
    const table = new RoutingTable([users], { now: () => now })
    table.register({ ...web, registerInterval: 400 })
    table.register({ ...tweets, receives: ['tweets.create'] }) // the default 5,000 ms
    table.register({ ...users, name: 'fast', registerInterval: 10 }) // at least 1 s

    now = 1000
    assert.deepEqual(table.expire(), [])
    now = 1001
    assert.deepEqual(
      table.expire().map((service) => service.name),
      ['fast'],
    )
    now = 1200
    assert.deepEqual(table.expire(), [])
    now = 1201
    assert.deepEqual(
      table.expire().map((service) => service.name),
      ['web'],
    )
    now = 15_001
    assert.deepEqual(
      table.expire().map((service) => service.name),
      ['tweets'],
    )
    // A configured service never expires: an original relay does not register itself.
    assert.deepEqual(Object.keys(table.config().services), ['users'])
  })

  test('dropUnreachable drops a self-registered service only while it is still at that address', () => {
    let now = 10
    const table = new RoutingTable([users], { now: () => now })
    table.register(web)

    assert.equal(table.dropUnreachable('web', 'http://127.0.0.1:9999', 20), false)
    assert.equal(table.dropUnreachable('users', 'http://127.0.0.1:4001', 20), false, 'configured')
    // It restarted at the same address and registered after the failed request was made.
    now = 30
    table.register(web)
    assert.equal(table.dropUnreachable('web', 'http://127.0.0.1:4000', 20), false, 'restarted')
    assert.equal(table.dropUnreachable('web', 'http://127.0.0.1:4000', 40), true)
    assert.equal(table.has('web'), false)
  })

  test('the table refuses what would take it past maxServices or its size, and changes nothing', () => {
    let now = 0
    const table = new RoutingTable([], { now: () => now, maxServices: 2 })
    table.register(web)
    table.register(users)
    assert.throws(
      () => table.register(tweets),
      /holds 2 services already \(each instance counts\), its limit \(maxServices\)/,
    )
    // Two self-registered services stay, so a table of one would make three.
    assert.throws(
      () => table.configure([tweets]),
      /lists 1 services and 2 instances that registered themselves stay, 3 in all, more than ExoCom's limit of 2/,
    )
    now = 20_000 // both missed their registrations: a table of two fits again
    assert.deepEqual(table.configure([tweets, { ...users, name: 'other' }]), [])

    const big = new RoutingTable()
    const names = (n: number, prefix: string) =>
      Array.from({ length: n }, (_, i) => `${prefix}.${'x'.repeat(490)}${i}`)
    for (let i = 0; i < 7; i++)
      big.register({ ...web, name: `s${i}`, receives: names(1000, `s${i}`) })
    assert.throws(
      () => big.register({ ...web, name: 's7', receives: names(1000, 's7') }),
      /would make the routing table list 8000 names of \d+ characters in all, more than ExoCom's limit of 100000 names and 4000000 characters/,
    )
    assert.equal(big.has('s7'), false)
  })
})

describe('several instances of one service', () => {
  const one = { ...users, instance: 'one', port: 5001 }
  const two = { ...users, instance: 'two', port: 5002 }
  const three = { ...users, instance: 'three', port: 5003 }
  const origins = (table: RoutingTable, sender: string, name: string, responseTo?: string) =>
    table.route(sender, name, responseTo).deliveries.map((delivery) => delivery.origin)

  test('instances registering under one name are all kept, and each message goes to one in turn', () => {
    const table = new RoutingTable([web])
    for (const instance of [one, two, three]) assert.equal(table.register(instance), 'added')

    const picked = Array.from({ length: 6 }, () => origins(table, 'web', 'users.create'))

    assert.deepEqual(picked.flat(), [
      'http://127.0.0.1:5001',
      'http://127.0.0.1:5002',
      'http://127.0.0.1:5003',
      'http://127.0.0.1:5001',
      'http://127.0.0.1:5002',
      'http://127.0.0.1:5003',
    ])
    const shown = table.config().services.users
    assert.deepEqual(
      shown?.instances.map(({ instance, port, source }) => ({ instance, port, source })),
      [
        { instance: 'one', port: 5001, source: 'self-registered' },
        { instance: 'two', port: 5002, source: 'self-registered' },
        { instance: 'three', port: 5003, source: 'self-registered' },
      ],
    )
    assert.equal(shown?.port, 5001, "the service's own fields are its first instance's")
    assert.equal(table.config().routes['users.create']?.receivers[0]?.instances.length, 3)
  })

  test('a reply goes to the instance that sent the request, and to nobody once it is gone', () => {
    let now = 0
    const table = new RoutingTable([users], { now: () => now })
    const webA = { ...web, instance: 'a', port: 4100, receives: ['pages.render'] }
    const webB = { ...web, instance: 'b', port: 4200 }
    table.register(webA)
    table.register(webB)
    table.remember('from-a', 'web', 'a')
    table.remember('from-b', 'web', 'b')

    assert.deepEqual(origins(table, 'users', 'users.created', 'from-a'), ['http://127.0.0.1:4100'])
    assert.deepEqual(origins(table, 'users', 'users.created', 'from-b'), ['http://127.0.0.1:4200'])
    assert.equal(table.remove('web', 'a').length, 1)
    // Withdrawn, it is closing: its handlers may still await replies to their own requests.
    assert.deepEqual(origins(table, 'users', 'users.created', 'from-a'), ['http://127.0.0.1:4100'])
    assert.deepEqual(origins(table, 'users', 'pages.render'), [], 'it receives nothing else')
    // Gone once it would have been dropped had it gone silent: three of its intervals.
    now += 3 * 5_000 + 1
    table.register(webB) // b kept registering
    table.expire()
    assert.deepEqual(origins(table, 'users', 'users.created', 'from-a'), [])
    assert.deepEqual(origins(table, 'users', 'users.created', 'from-b'), ['http://127.0.0.1:4200'])
  })

  test('a withdrawn instance that registers again is routed as before; a withdrawn service is gone at once', () => {
    const table = new RoutingTable([users])
    const webA = { ...web, instance: 'a', port: 4100 }
    table.register(webA)
    table.remember('from-a', 'web', 'a')
    table.remove('web', 'a')
    table.register({ ...webA, port: 4300 })
    assert.deepEqual(origins(table, 'users', 'users.created', 'from-a'), ['http://127.0.0.1:4300'])
    // An operator withdrawing the whole service is not a relay closing: nothing is kept.
    table.remove('web')
    assert.deepEqual(origins(table, 'users', 'users.created', 'from-a'), [])
  })

  test('a requester that also receives the reply name gets it once, at the instance that asked', () => {
    const table = new RoutingTable([users])
    table.register({ ...web, instance: 'a', port: 4100, receives: ['users.created'] })
    table.register({ ...web, instance: 'b', port: 4200, receives: ['users.created'] })
    table.remember('from-b', 'web', 'b')

    for (let i = 0; i < 3; i++) {
      assert.deepEqual(origins(table, 'users', 'users.created', 'from-b'), [
        'http://127.0.0.1:4200',
      ])
    }
  })

  test('a message naming an instance of a service registered without ids is answered to that service', () => {
    // A relay with `register: false` sends its instance id; an operator's table knows no ids.
    const table = new RoutingTable([users, web])
    table.remember('req-1', 'web', 'some-id')

    assert.deepEqual(origins(table, 'users', 'users.created', 'req-1'), ['http://127.0.0.1:4000'])
  })

  test('withdrawing one instance leaves the others; withdrawing the service removes them all', () => {
    const table = new RoutingTable()
    for (const instance of [one, two, three]) table.register(instance)

    assert.deepEqual(
      table.remove('users', 'two').map((service) => service.instance),
      ['two'],
    )
    assert.deepEqual(table.remove('users', 'two'), [])
    assert.deepEqual(origins(table, 'web', 'users.create'), ['http://127.0.0.1:5001'])
    assert.deepEqual(origins(table, 'web', 'users.create'), ['http://127.0.0.1:5003'])
    assert.equal(table.remove('users').length, 2)
    assert.equal(table.has('users'), false)
  })

  test('an instance that registers with a new id at the address of an earlier one replaces it', () => {
    const table = new RoutingTable()
    table.register(one)
    table.register(two)

    assert.equal(table.register({ ...one, instance: 'one-restarted' }), 'added')

    assert.deepEqual(
      table.config().services.users?.instances.map((instance) => instance.instance),
      ['two', 'one-restarted'],
    )
  })

  test('instances may receive different names while a deploy rolls', () => {
    const table = new RoutingTable()
    table.register(one)
    table.register({ ...two, receives: ['users.create', 'users.delete'] })

    assert.deepEqual(origins(table, 'web', 'users.delete'), ['http://127.0.0.1:5002'])
    assert.deepEqual(origins(table, 'web', 'users.delete'), ['http://127.0.0.1:5002'])
    assert.equal(table.config().routes['users.create']?.receivers[0]?.instances.length, 2)
    assert.equal(table.config().routes['users.delete']?.receivers[0]?.instances.length, 1)
  })

  test('an unreachable instance is dropped alone, and the next instance is its alternative', () => {
    let now = 0
    const table = new RoutingTable([], { now: () => now })
    for (const instance of [one, two, three]) table.register(instance)
    const [first] = table.route('web', 'users.create').deliveries
    now = 10

    assert.equal(table.dropUnreachable('users', first!.origin, 5), true)

    assert.equal(table.holds(first!), false)
    assert.equal(table.alternative(first!, 'users.create')?.origin, 'http://127.0.0.1:5002')
    assert.equal(table.config().services.users?.instances.length, 2)
  })

  test('expire() drops the silent instances of a service and keeps the others', () => {
    let now = 0
    const table = new RoutingTable([], { now: () => now })
    table.register({ ...one, registerInterval: 1000 })
    table.register({ ...two, registerInterval: 1000 })
    now = 2500
    table.register({ ...two, registerInterval: 1000 })
    now = 3500

    assert.deepEqual(
      table.expire().map((service) => service.instance),
      ['one'],
    )
    assert.deepEqual(origins(table, 'web', 'users.create'), ['http://127.0.0.1:5002'])
  })

  test('maxServices counts every instance', () => {
    const table = new RoutingTable([], { maxServices: 2 })
    table.register(one)
    table.register(two)

    assert.throws(() => table.register(three), /holds 2 services already \(each instance counts\)/)
    assert.equal(table.register({ ...two, receives: ['users.create', 'users.get'] }), 'changed')
  })

  test('a change of one instance keeps the turn where it was', () => {
    const table = new RoutingTable()
    for (const instance of [one, two, three]) table.register(instance)
    const picked: string[] = []
    for (let i = 0; i < 3; i++) {
      picked.push(...origins(table, 'web', 'users.create'))
      // Another name on each turn: the service is re-indexed every time.
      table.register({ ...three, receives: ['users.create', `users.other-${i}`] })
    }

    assert.deepEqual(picked, [
      'http://127.0.0.1:5001',
      'http://127.0.0.1:5002',
      'http://127.0.0.1:5003',
    ])
  })

  test('a message from an instance the table does not know is translated like its siblings', () => {
    const table = new RoutingTable([{ ...web, receives: ['tweets.created'] }])
    table.register({ ...tweets, instance: 'a' })

    assert.equal(
      table.route('tweets', 'text-snippets.created', undefined, 'a').publicName,
      'tweets.created',
    )
    assert.equal(
      table.route('tweets', 'text-snippets.created', undefined, 'b').publicName,
      'tweets.created',
    )
  })

  test('a new table forgets the reply routes the kept instances had cached', () => {
    const audit = { ...users, name: 'audit', port: 7001, receives: ['users.created'] }
    const table = new RoutingTable([audit])
    table.register({ ...web, instance: 'w', port: 4100 })
    table.remember('m1', 'web', 'w')
    assert.deepEqual(origins(table, 'users', 'users.created', 'm1'), [
      'http://127.0.0.1:7001',
      'http://127.0.0.1:4100',
    ])

    table.configure([{ ...audit, port: 7002 }])
    assert.deepEqual(origins(table, 'users', 'users.created', 'm1'), [
      'http://127.0.0.1:7002',
      'http://127.0.0.1:4100',
    ])
    table.configure([])
    assert.deepEqual(origins(table, 'users', 'users.created', 'm1'), ['http://127.0.0.1:4100'])
  })

  test('maxInstances bounds the instances of one service, so that it cannot fill the table', () => {
    const table = new RoutingTable([], { maxServices: 10, maxInstances: 2 })
    table.register(one)
    table.register(two)

    assert.throws(
      () => table.register(three),
      /The service 'users' has 2 instances already, its limit \(maxInstances\)/,
    )
    // A restart at the address of an instance replaces it, and another service still fits.
    assert.equal(table.register({ ...one, instance: 'one-again' }), 'added')
    assert.equal(table.register(web), 'added')
  })

  test('an instance id is 1 to 128 visible ASCII characters', () => {
    for (const instance of ['', 'a b', 'x'.repeat(129), 7, 'é']) {
      assert.throws(
        () => validateService({ ...users, instance }, 'The registration'),
        /has an 'instance' that is not an id of 1 to 128 visible ASCII characters/,
      )
    }
    assert.equal(
      validateService({ ...users, instance: 'x'.repeat(128) }, 'R').instance?.length,
      128,
    )
  })
})
