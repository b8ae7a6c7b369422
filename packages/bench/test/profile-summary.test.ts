import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  type CpuProfile,
  categorize,
  collectSelfTimes,
  mergeSelfTimes,
  rankSelfTimes,
  renderProfiles,
  summarizeProfile,
} from '../src/profile-summary.js'

const frame = (functionName: string, url: string) => ({ functionName, url })
// Sample times add up in floating point: compare them to the microsecond.
const rounded = (ms: number) => Math.round(ms * 1000) / 1000

describe('categorize', () => {
  it('groups Fastify with the packages on its request path', () => {
    assert.equal(
      categorize(frame('handler', 'file:///w/node_modules/fastify/lib/route.js')),
      'fastify',
    )
    assert.equal(
      categorize(frame('find', 'file:///w/node_modules/find-my-way/index.js')),
      'fastify',
    )
    assert.equal(
      categorize(frame('_parse', 'file:///w/node_modules/secure-json-parse/index.js')),
      'fastify',
    )
  })

  it('names undici, pino and nats.js', () => {
    assert.equal(
      categorize(frame('request', 'file:///w/node_modules/undici/lib/api/x.js')),
      'undici',
    )
    assert.equal(categorize(frame('write', 'file:///w/node_modules/sonic-boom/index.js')), 'pino')
    assert.equal(categorize(frame('request', 'file:///w/node_modules/nats/lib/x.js')), 'nats.js')
    assert.equal(categorize(frame('wasm-function[20]', 'wasm://wasm/00034eea')), 'undici')
  })

  it('names the exorelay workspaces by their real paths and by their links', () => {
    assert.equal(
      categorize(frame('send', 'file:///w/packages/core/dist/relay.js')),
      'exorelay core',
    )
    assert.equal(
      categorize(frame('deliver', 'file:///w/packages/exocom/dist/delivery.js')),
      '@exorelay/exocom',
    )
    assert.equal(
      categorize(frame('send', 'file:///w/node_modules/@exorelay/core/dist/relay.js')),
      'exorelay core',
    )
  })

  it('uses the innermost package of a nested install', () => {
    assert.equal(
      categorize(frame('f', 'file:///w/node_modules/fastify/node_modules/undici/lib/x.js')),
      'undici',
    )
  })

  it('tells GC, idle and the JSON builtins apart from other URL-less natives', () => {
    assert.equal(categorize(frame('(garbage collector)', '')), 'GC')
    assert.equal(categorize(frame('(idle)', '')), 'idle')
    assert.equal(categorize(frame('parse', '')), 'JSON')
    assert.equal(categorize(frame('stringify', '')), 'JSON')
    assert.equal(categorize(frame('writev', '')), 'native (bindings, builtins)')
  })

  it("sorts Node's internals by area", () => {
    assert.equal(categorize(frame('_storeHeader', 'node:_http_outgoing')), 'node http')
    assert.equal(
      categorize(frame('writeOrBuffer', 'node:internal/streams/writable')),
      'node net/streams',
    )
    assert.equal(
      categorize(frame('createAbortSignal', 'node:internal/abort_controller')),
      'node AbortController/EventTarget',
    )
    assert.equal(categorize(frame('randomUUID', 'node:internal/crypto/random')), 'node crypto')
  })
})

describe('summarizeProfile', () => {
  // Four nodes: root, idle, a fastify function and GC; one sample every 100 µs from t=1000.
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 } },
      { id: 2, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
      {
        id: 3,
        callFrame: {
          functionName: 'route',
          url: 'file:///w/node_modules/fastify/lib/route.js',
          lineNumber: 9,
        },
      },
      { id: 4, callFrame: { functionName: '(garbage collector)', url: '', lineNumber: -1 } },
    ],
    startTime: 1000,
    samples: [3, 3, 3, 4, 2, 2, 3],
    timeDeltas: [100, 100, 100, 100, 100, 100, 100],
  }

  it('adds up self time by category and leaves idle time out of the busy time', () => {
    const summary = summarizeProfile('bus', profile)
    assert.equal(rounded(summary.busyMs), 0.4)
    assert.deepEqual(
      summary.byCategory.map((entry) => [entry.name, rounded(entry.ms)]),
      [
        ['fastify', 0.3],
        ['GC', 0.1],
      ],
    )
    assert.equal(rounded(summary.byCategory[0]!.share), 0.75)
  })

  it('names each top function with its file and 1-based line', () => {
    const summary = summarizeProfile('bus', profile)
    assert.equal(summary.topFunctions[0]!.name, 'route node_modules/fastify/lib/route.js:10')
    assert.equal(summary.topFunctions[0]!.category, 'fastify')
  })

  it('counts only the samples inside the window when one is given', () => {
    // Samples fall at 1100, 1200, …, 1700: the window keeps 1300 (fastify) and 1400 (GC).
    const summary = summarizeProfile('bus', profile, { startUs: 1250, endUs: 1450 })
    assert.deepEqual(
      summary.byCategory.map((entry) => [entry.name, rounded(entry.ms)]),
      [
        ['fastify', 0.1],
        ['GC', 0.1],
      ],
    )
  })

  it('adds up the self times of several profiles, by category and by function', () => {
    const once = collectSelfTimes(profile)
    const merged = rankSelfTimes(
      'bus, all rounds',
      mergeSelfTimes([once, collectSelfTimes(profile)]),
    )
    assert.equal(rounded(merged.busyMs), 0.8)
    assert.equal(rounded(merged.byCategory[0]!.ms), 0.6)
    assert.equal(rounded(merged.topFunctions[0]!.ms), 0.6)
    assert.equal(rounded(merged.byCategory[0]!.share), 0.75)
  })

  it('names the window the summaries cover in the heading, the cold start apart from @64', () => {
    const summary = summarizeProfile('bus', profile)
    assert.match(
      renderProfiles([summary], 'the cold-start phase'),
      /^# CPU profiles: self time during the cold-start phase, idle excluded, rounds added up\n/,
    )
    assert.match(
      renderProfiles([summary]),
      /^# CPU profiles: self time during the measured phases,/,
    )
  })
})
