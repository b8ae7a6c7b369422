#!/usr/bin/env node
// The tool runs from its TypeScript sources through tsx, as the private bench does: nothing to
// build before the first `api:check`.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../src/cli.ts')
process.exitCode = await main(process.argv.slice(2), process.cwd())
