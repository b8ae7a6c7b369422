import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { CURVES, type Curve, type CurveId } from '../src/curve-definitions.js'
import type { CurvePhase } from '../src/curve-measure.js'
import {
  type CurvesReport,
  curveChart,
  curveNotes,
  curveTable,
  formatFigure,
  type PointRound,
  renderCurvesMarkdown,
  renderCurveTable,
  writeCurves,
} from '../src/curve-report.js'
import type { CurveSystemId } from '../src/curve-systems.js'
import { machineInfo } from '../src/machine.js'

function curve(id: CurveId): Curve {
  return CURVES.find((candidate) => candidate.id === id)!
}

function phase(inFlight: number, throughput: number, cpu: Record<string, number>): CurvePhase {
  return {
    inFlight,
    completed: throughput,
    errors: 0,
    firstError: undefined,
    throughput,
    p50Us: 1_000_000 / throughput,
    p99Us: 3_000_000 / throughput,
    cpuMicros: cpu,
  }
}

function point(
  id: CurveId,
  system: CurveSystemId,
  series: string,
  x: number,
  round: number,
  phases: CurvePhase[],
): PointRound {
  return { curve: id, system, series, x, round, phases }
}

// Two rounds of the payload curve at two sizes: CPU 100 µs per request/reply in round 1 and
// 200 in round 2 for ExoRelay (median 150), 50 for the floor.
const payloadRounds: PointRound[] = [100, 1_000_000].flatMap((bytes) => [
  point('payload', 'exorelay', 'ExoRelay', bytes, 1, [
    phase(64, 1000, { bus: 40_000, responder: 30_000, requester: 30_000 }),
  ]),
  point('payload', 'exorelay', 'ExoRelay', bytes, 2, [
    phase(64, 1000, { bus: 80_000, responder: 60_000, requester: 60_000 }),
  ]),
  point('payload', 'floor', 'floor', bytes, 1, [
    phase(64, 2000, { bus: 20_000, responder: 40_000, requester: 40_000 }),
  ]),
])

describe('curveTable', () => {
  it('gives one row per point, x ascending and series in the curve order, medians across rounds', () => {
    const table = curveTable(curve('payload'), payloadRounds)
    assert.deepEqual(table.headers, [
      'payload',
      'system',
      'req/s @64',
      'CPU µs/req',
      'bus CPU µs/req',
    ])
    assert.deepEqual(
      table.rows.map((row) => [row.x, row.series]),
      [
        [100, 'floor'],
        [100, 'ExoRelay'],
        [1_000_000, 'floor'],
        [1_000_000, 'ExoRelay'],
      ],
    )
    assert.deepEqual(table.rows[1]!.values, [1000, 150, 60])
    assert.deepEqual(table.rows[0]!.values, [2000, 50, 10])
  })

  it('counts every copy delivered in the fan-out curve, and the CPU per copy', () => {
    const table = curveTable(curve('fan-out'), [
      point('fan-out', 'exorelay', 'ExoRelay', 4, 1, [
        phase(64, 500, { bus: 100_000, responder: 80_000, requester: 20_000 }),
      ]),
    ])
    // 500 request/replies a second, each delivered to 4 receivers; 400 µs each, 100 a copy.
    assert.deepEqual(table.rows[0]!.values, [2000, 100, 500])
  })

  it('adds up the CPU of every instance of the answering service', () => {
    const table = curveTable(curve('instances'), [
      point('instances', 'exorelay', 'ExoRelay', 2, 1, [
        phase(64, 100, { bus: 5000, 'responder-2': 2000, responder: 3000, requester: 4000 }),
      ]),
    ])
    assert.deepEqual(table.rows[0]!.values, [100, 140, 50])
  })

  it('leaves a figure out (n/a) when no round measured it', () => {
    const table = curveTable(curve('routes'), [
      point('routes', 'exorelay', 'ExoRelay', 0, 1, [phase(64, 1000, {})]),
    ])
    const cells = renderCurveTable(curve('routes'), table)
    // No @1 phase, and no bus among the processes measured.
    assert.match(cells[2]!, /\| +0 \| ExoRelay +\| +n\/a \| +1,000 \| +n\/a \|/)
  })
})

describe('formatFigure', () => {
  it('rounds from 10 up, keeps one decimal below, n/a for nothing', () => {
    assert.equal(formatFigure(12_345.6), '12,346')
    assert.equal(formatFigure(4.26), '4.3')
    assert.equal(formatFigure(undefined), 'n/a')
  })
})

describe('curveChart', () => {
  it('draws the chart metric against x, one line per series', () => {
    const svg = curveChart(curve('payload'), curveTable(curve('payload'), payloadRounds))
    assert.ok(svg !== undefined)
    assert.equal(svg.match(/<polyline /g)?.length, 2)
    assert.match(svg, /CPU µs per request\/reply @64 \(log scale\)/)
    assert.match(svg, />1M</)
  })

  it('draws a baseline measured at x = 0 flat across the log axis', () => {
    const rounds = [
      point('routes', 'exorelay', 'ExoRelay', 0, 1, [phase(64, 900, {}), phase(1, 2000, {})]),
      point('routes', 'exorelay', 'ExoRelay + 10 services', 10, 1, [
        phase(64, 900, {}),
        phase(1, 2000, {}),
      ]),
      point('routes', 'exorelay', 'ExoRelay + 10 services', 10_000, 1, [
        phase(64, 900, {}),
        phase(1, 1900, {}),
      ]),
    ]
    const svg = curveChart(curve('routes'), curveTable(curve('routes'), rounds))!
    assert.equal(svg.match(/<polyline /g)?.length, 2)
    assert.match(svg, />ExoRelay</)
  })

  it('is undefined when nothing was measured', () => {
    assert.equal(curveChart(curve('payload'), curveTable(curve('payload'), [])), undefined)
  })
})

describe('the written curves', () => {
  const report: CurvesReport = {
    // A quiet machine, whatever this one's load: the load note is tested on its own.
    machine: {
      ...machineInfo('npm run bench:curves -- --quick', undefined),
      loadAverage: { start: [0.1, 0.1, 0.1], end: [0.2, 0.1, 0.1] },
    },
    settings: { rounds: 2, warmupRequests: 2000, warmupMs: 300, durationMs: 1000 },
    curves: [
      {
        curve: curve('payload'),
        table: curveTable(curve('payload'), payloadRounds),
        rounds: [
          ...payloadRounds,
          point('payload', 'nats', 'NATS', 100, 1, [
            { ...phase(64, 10, {}), errors: 2, firstError: 'TimeoutError: too slow' },
          ]),
        ],
      },
    ],
    skipped: ['NATS: skipped: nats-server not installed'],
  }

  it('lists failed requests and skipped systems as notes', () => {
    assert.deepEqual(curveNotes(report), [
      'NATS: skipped: nats-server not installed',
      'payload 100 B NATS round 1 @64: 2 failed request(s), first: TimeoutError: too slow',
    ])
  })

  it('says first when other processes loaded the machine, as the benchmark does', () => {
    const busy = {
      ...report,
      machine: {
        ...report.machine,
        cores: 2,
        loadAverage: { start: [3.2, 1, 1], end: [8.18, 2, 1] },
      },
    }
    assert.match(curveNotes(busy)[0] ?? '', /^The 1-minute load average reached 8\.18 on 2 cores: /)
  })

  it('writes curves.md with each table and chart, curves.json and one SVG per curve', async (t) => {
    const directory = await mkdtemp(join(tmpdir(), 'curves-test-'))
    t.after(() => rm(directory, { recursive: true, force: true }))
    await writeCurves(report, directory)
    assert.deepEqual((await readdir(directory)).sort(), ['curves.json', 'curves.md', 'payload.svg'])
    const markdown = await readFile(join(directory, 'curves.md'), 'utf8')
    assert.equal(markdown, renderCurvesMarkdown(report))
    assert.match(markdown, /## Payload size/)
    assert.match(markdown, /\| +1 MB \| ExoRelay +\| +1,000 \| +150 \| +60 \|/)
    assert.match(markdown, /!\[Payload size\]\(payload\.svg\)/)
    assert.match(markdown, /- NATS: skipped/)
    const json = JSON.parse(await readFile(join(directory, 'curves.json'), 'utf8'))
    assert.equal(json.curves[0].id, 'payload')
    assert.equal(json.curves[0].rounds.length, 7)
  })
})
