import assert from 'node:assert/strict'
import { tmpdir } from 'node:os'
import { describe, it } from 'node:test'
import { ErrorCodes } from '@exorelay/core'
import { outputFolder, parseCurveOptions, SAVED_CURVES } from '../src/curve-options.js'

function parsed(argv: readonly string[]) {
  const options = parseCurveOptions(argv)
  if (options === 'help') return assert.fail('no help expected')
  return options
}

describe('parseCurveOptions', () => {
  it('runs every curve once, 1 s warm-up and 3 s measured per phase, by default', () => {
    const options = parsed([])
    assert.deepEqual(options.curves, ['payload', 'in-flight', 'fan-out', 'routes', 'instances'])
    assert.equal(options.rounds, 1)
    assert.equal(options.warmupMs, 1000)
    assert.equal(options.durationMs, 3000)
    assert.equal(options.warmupRequests, 5000)
    assert.equal(options.save, false)
  })

  it('makes --quick shorter in every phase', () => {
    const full = parsed([])
    const quick = parsed(['--quick'])
    assert.equal(quick.quick, true)
    assert.ok(quick.warmupMs < full.warmupMs)
    assert.ok(quick.durationMs < full.durationMs)
    assert.ok(quick.warmupRequests < full.warmupRequests)
  })

  it('takes --only in any order and runs the curves in their own order, each once', () => {
    assert.deepEqual(parsed(['--only', 'routes,payload, routes']).curves, ['payload', 'routes'])
  })

  it('lets --rounds, --warmup-requests, --warmup and --duration override the defaults', () => {
    const options = parsed([
      '--rounds',
      '3',
      '--warmup-requests',
      '0',
      '--warmup',
      '0',
      '--duration',
      '0.5',
    ])
    assert.equal(options.rounds, 3)
    assert.equal(options.warmupRequests, 0)
    assert.equal(options.warmupMs, 0)
    assert.equal(options.durationMs, 500)
  })

  it('answers --help with help', () => {
    assert.equal(parseCurveOptions(['-h']), 'help')
  })

  for (const [argv, text] of [
    [['--only', 'payload,latency'], /'latency' is none of them/],
    [['--only', ','], /--only needs at least one of payload/],
    [['--rounds', '0'], /--rounds must be a positive integer, got '0'/],
    [['--duration', '0'], /--duration must be a positive number of seconds/],
    [['--curves'], /Unknown option '--curves'/],
    [['--quick', '--save'], /drop --quick \(or --save\)/],
  ] as const) {
    it(`refuses ${argv.join(' ')} with a coded error naming the flag`, () => {
      assert.throws(
        () => parseCurveOptions(argv),
        (error: Error & { code?: string }) => {
          assert.equal(error.code, ErrorCodes.INVALID_OPTION)
          assert.match(error.message, text)
          return true
        },
      )
    })
  }
})

describe('outputFolder', () => {
  it('is a new folder in the temporary folder, named by date and process, unless --save', () => {
    const folder = outputFolder({ save: false }, new Date('2026-12-07T01:02:03.456Z'), 4242)
    assert.ok(folder.startsWith(tmpdir()))
    assert.ok(folder.endsWith('exorelay-curves-2026-12-07T01-02-03-4242'), folder)
  })

  it('is results/curves/ of the package with --save', () => {
    assert.equal(outputFolder({ save: true }, new Date(), 1), SAVED_CURVES)
    assert.match(SAVED_CURVES, /packages\/bench\/results\/curves\/$/)
  })
})
