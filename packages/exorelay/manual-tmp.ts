import { spawn } from 'node:child_process'
import { startExoCom } from '@exorelay/exocom'
import { ExoRelay } from '/work/wt-i18-cli/packages/exorelay/src/index.ts'

const bus = await startExoCom({ port: 0, logger: false })
const users = new ExoRelay({ serviceName: 'users', exocomPort: bus.port, port: 0, logger: false })
users.registerHandler('users.create', (_u, { reply }) => reply('users.created', { id: 1 }))
users.registerHandler('users.fail', () => {
  throw new Error('nope')
})
const tail = spawn(
  process.execPath,
  ['bin/exorelay.js', 'tail', ...process.argv.slice(2), '--port', String(bus.port)],
  { stdio: 'inherit' },
)
await new Promise((r) => setTimeout(r, 800))
await users.listen()
const run = (args: string[]) =>
  new Promise((r) =>
    spawn(process.execPath, ['bin/exorelay.js', ...args, '--port', String(bus.port)], {
      stdio: 'inherit',
    }).on('close', r),
  )
await run(['request', 'users.create', '{}'])
await run(['request', 'users.fail', '{}'])
await run(['send', 'nobody.there'])
await new Promise((r) => setTimeout(r, 500))
tail.kill('SIGINT')
await new Promise((r) =>
  tail.on('close', (c) => {
    console.log('tail exit', c)
    r(c)
  }),
)
await users.close()
await bus.close()
