import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const script = `
import { ExoRelay } from 'exorelay'
const relay = new ExoRelay({ serviceName: 'web', exocomPort: 1, logger: false, register: false })
process.on('unhandledRejection', (reason) => { console.log('UNHANDLED', reason); process.exitCode = 3 })
relay.send('hello', { name: 'world' }, { timeout: 3_600_000 })
relay.send('users.create', { name: 'Will' }, { timeout: 3_600_000 })
console.log('sent')
`

test('an ignored send neither keeps the process alive nor rejects unhandled', {
  timeout: 60_000,
}, async () => {
  // Deadlines of an hour: if the relay held the event loop open, this process would not end.
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let output = ''
  child.stdout.on('data', (chunk) => {
    output += chunk
  })
  const [code] = await once(child, 'exit')
  assert.equal(output.trim(), 'sent')
  assert.equal(code, 0)
})
