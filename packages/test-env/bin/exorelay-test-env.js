#!/usr/bin/env node
// Runs from its TypeScript sources through tsx, as api-report does: nothing to build first.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../src/cli.ts')
process.exitCode = await main(process.argv.slice(2))
