import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ErrorCodes } from '@exorelay/core'
import { parseOptions, runFolder, SAVED_RESULTS } from '../src/options.js'

describe('parseOptions', () => {
  it('runs 3 rounds of every system and the core micro-benchmark by default', () => {
    const options = parseOptions([])
    assert.notEqual(options, 'help')
    if (options === 'help') return
    assert.equal(options.rounds, 3)
    assert.deepEqual(options.targets, [
      'floor',
      'exorelay',
      'exorelay-unbatched',
      'nats',
      'exorelay-nats',
      'moleculer-nats',
      'moleculer-tcp',
      'core',
    ])
    assert.equal(options.quick, false)
    assert.equal(options.cpuProf, false)
    assert.equal(options.stackCapture, true)
    assert.equal(options.save, false)
  })

  it('makes --quick one round of shorter phases than the full run', () => {
    const full = parseOptions([])
    const quick = parseOptions(['--quick'])
    if (full === 'help' || quick === 'help') return assert.fail('no help expected')
    assert.equal(quick.rounds, 1)
    assert.ok(quick.durationMs < full.durationMs)
    assert.ok(quick.warmupMs < full.warmupMs)
    assert.ok(quick.warmupRequests < full.warmupRequests)
  })

  it('lets --rounds, --warmup and --duration override the defaults, durations in seconds', () => {
    const options = parseOptions(['--quick', '--rounds', '4', '--warmup', '0', '--duration', '1.5'])
    if (options === 'help') return assert.fail('no help expected')
    assert.equal(options.rounds, 4)
    assert.equal(options.warmupMs, 0)
    assert.equal(options.durationMs, 1500)
  })

  it('keeps the canonical order of --only, whatever order the list is in, each target once', () => {
    const options = parseOptions(['--only', 'nats, core,floor,nats'])
    if (options === 'help') return assert.fail('no help expected')
    assert.deepEqual(options.targets, ['floor', 'nats', 'core'])
  })

  it('runs the floor with one ExoRelay component only when --only names it', () => {
    const options = parseOptions(['--only', 'mix-responder,floor,mix-bus'])
    if (options === 'help') return assert.fail('no help expected')
    assert.deepEqual(options.targets, ['floor', 'mix-bus', 'mix-responder'])
  })

  it('runs ExoRelay under the registration flood only when --only names it', () => {
    const options = parseOptions(['--only', 'exorelay-flood,exorelay'])
    if (options === 'help') return assert.fail('no help expected')
    assert.deepEqual(options.targets, ['exorelay', 'exorelay-flood'])
  })

  it('runs ExoRelay with OpenTelemetry only when --only names it, next to the plain rows', () => {
    const options = parseOptions([
      '--only',
      'exorelay-nats-otel-sdk,exorelay-otel-sdk,exorelay-nats,exorelay-otel-api,exorelay,exorelay-nats-otel-api',
    ])
    if (options === 'help') return assert.fail('no help expected')
    assert.deepEqual(options.targets, [
      'exorelay',
      'exorelay-otel-api',
      'exorelay-otel-sdk',
      'exorelay-nats',
      'exorelay-nats-otel-api',
      'exorelay-nats-otel-sdk',
    ])
  })

  it('floods with 1,000 services unless --flood-services says how many', () => {
    const byDefault = parseOptions([])
    const fewer = parseOptions(['--flood-services', '250'])
    if (byDefault === 'help' || fewer === 'help') return assert.fail('no help expected')
    assert.equal(byDefault.floodServices, 1000)
    assert.equal(fewer.floodServices, 250)
  })

  it('rejects a number of flood services that is not a positive integer, naming the flag', () => {
    for (const services of ['0', '-1', '2.5', 'many', '']) {
      assert.throws(() => parseOptions(['--flood-services', services]), {
        code: ErrorCodes.INVALID_OPTION,
        message: /--flood-services/,
      })
    }
  })

  it('runs 10,000 cold-start request/replies, 2,000 with --quick, unless --cold-requests says', () => {
    const full = parseOptions([])
    const quick = parseOptions(['--quick'])
    const none = parseOptions(['--quick', '--cold-requests', '0'])
    const more = parseOptions(['--cold-requests', '40000'])
    if (full === 'help' || quick === 'help' || none === 'help' || more === 'help')
      return assert.fail('no help expected')
    assert.deepEqual(
      [full.coldRequests, quick.coldRequests, none.coldRequests, more.coldRequests],
      [10_000, 2000, 0, 40_000],
    )
  })

  it('rejects a number of cold-start request/replies that is not a whole number, naming the flag', () => {
    for (const value of ['-1', '2.5', 'many', '']) {
      assert.throws(() => parseOptions([`--cold-requests=${value}`]), {
        code: ErrorCodes.INVALID_OPTION,
        message: new RegExp(`^--cold-requests must be a non-negative integer, got '${value}'\\.`),
      })
    }
  })

  it('remembers the arguments, for the command in the report', () => {
    const options = parseOptions(['--quick'])
    if (options === 'help') return assert.fail('no help expected')
    assert.deepEqual(options.argv, ['--quick'])
  })

  it('returns help for --help and -h', () => {
    assert.equal(parseOptions(['--help']), 'help')
    assert.equal(parseOptions(['-h']), 'help')
  })

  it('rejects an unknown name in --only, naming it', () => {
    assert.throws(() => parseOptions(['--only', 'floor,kafka']), {
      code: ErrorCodes.INVALID_OPTION,
      message: /'kafka'/,
    })
  })

  it('rejects rounds that are not a positive integer', () => {
    for (const rounds of ['0', '-1', '1.5', 'three']) {
      assert.throws(() => parseOptions(['--rounds', rounds]), { code: ErrorCodes.INVALID_OPTION })
    }
  })

  it('rejects a measured phase of zero seconds but accepts no warm-up', () => {
    assert.throws(() => parseOptions(['--duration', '0']), { code: ErrorCodes.INVALID_OPTION })
    assert.doesNotThrow(() => parseOptions(['--warmup', '0', '--warmup-requests', '0']))
  })

  it('rejects an unknown flag with an invalid-option code', () => {
    assert.throws(() => parseOptions(['--fast']), { code: ErrorCodes.INVALID_OPTION })
  })

  it("runs with the libraries' default stack capture unless --no-stacks", () => {
    const options = parseOptions(['--no-stacks'])
    if (options === 'help') return assert.fail('no help expected')
    assert.equal(options.stackCapture, false)
  })

  it('saves into results/ only with --save, which a --quick run refuses', () => {
    const saved = parseOptions(['--save', '--rounds', '1'])
    if (saved === 'help') return assert.fail('no help expected')
    assert.equal(saved.save, true)
    assert.throws(() => parseOptions(['--quick', '--save']), {
      code: ErrorCodes.INVALID_OPTION,
      message: /--save .*--quick.*drop --quick/,
    })
  })
})

describe('runFolder', () => {
  it('names a fresh folder in the temporary directory by date and process, without colons', () => {
    const folder = runFolder('exorelay-bench', new Date('2026-12-07T01:02:03.456Z'), 4711, '/tmp')
    assert.equal(folder, '/tmp/exorelay-bench-2026-12-07T01-02-03-4711')
  })

  it('is outside the package, where --save writes', () => {
    assert.equal(runFolder('exorelay-bench').startsWith(SAVED_RESULTS), false)
    assert.match(SAVED_RESULTS, /packages\/bench\/results\/?$/)
  })
})
