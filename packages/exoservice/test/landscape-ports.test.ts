import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { test } from 'node:test'
import { freePorts } from '../src/free-ports.js'
import { isFree } from './ports.js'

test('freePorts gives distinct ports, none of them one that is listened on, all free again', async (t) => {
  // The bus, listening while the services' ports are probed.
  const bus = createServer()
  bus.listen(0, '127.0.0.1')
  await once(bus, 'listening')
  t.after(() => new Promise((resolve) => bus.close(resolve)))
  const busPort = (bus.address() as { port: number }).port

  const ports = await freePorts(200)
  assert.equal(ports.length, 200)
  assert.equal(new Set(ports).size, ports.length, 'no port twice')
  assert.ok(!ports.includes(busPort), "not the bus's port")
  for (const port of ports.slice(0, 5)) assert.ok(await isFree(port), `port ${port} is free`)
})

test('freePorts of none is none', async () => {
  assert.deepEqual(await freePorts(0), [])
})
