#!/usr/bin/env node
// The `exorelay` command. npm links bins at `npm ci`, before anything is built, so the file the
// bin points at is committed; it runs the CLI that `npm run build` compiles into dist/.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const cli = new URL('../dist/cli.js', import.meta.url)
if (!existsSync(cli)) {
  // A clear word instead of a module-not-found stack: in a fresh clone nothing is built yet.
  process.stderr.write(
    `exorelay: the CLI is not built yet (${fileURLToPath(cli)} is missing). Run \`npm run build\` first.\n`,
  )
  process.exit(1)
}
await import(cli.href)
