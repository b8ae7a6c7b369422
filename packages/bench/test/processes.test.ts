import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { describe, it } from 'node:test'
import { procUsage } from '../src/processes.js'

describe('procUsage', () => {
  const linux = existsSync('/proc/self/stat')

  it('reads the CPU time and resident memory of a process from /proc', { skip: !linux }, () => {
    // Burn some CPU first, so that at least one clock tick has been counted.
    let spin = 0
    const until = process.hrtime.bigint() + 50_000_000n
    while (process.hrtime.bigint() < until) spin++
    const usage = procUsage(process.pid)
    assert.ok(spin > 0)
    assert.ok(usage.cpuMicros > 0, `cpuMicros was ${usage.cpuMicros}`)
    assert.ok(usage.rssBytes > 1024 * 1024, `rssBytes was ${usage.rssBytes}`)
  })

  it('agrees with process.cpuUsage() to within a few clock ticks', { skip: !linux }, () => {
    const { user, system } = process.cpuUsage()
    const fromProc = procUsage(process.pid).cpuMicros
    // /proc counts in 10 ms ticks and is read a moment later.
    assert.ok(Math.abs(fromProc - (user + system)) < 50_000, `${fromProc} vs ${user + system}`)
  })
})
