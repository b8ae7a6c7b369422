import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { RegistrationCounts } from '../src/flood.js'
import type { MachineInfo } from '../src/machine.js'
import {
  buildReport,
  floodLines,
  goalLines,
  notes,
  ratioLines,
  registrationFigures,
  renderMarkdown,
  renderText,
  tableRows,
} from '../src/report.js'
import type { PhaseResult, SystemRound } from '../src/run-system.js'
import type { SystemId } from '../src/scenario.js'

const machine: MachineInfo = {
  cpu: 'Test CPU',
  cores: 2,
  memoryGiB: 4,
  os: 'Linux test x64',
  node: 'v20.19.0',
  natsServer: undefined,
  date: '2026-01-01T00:00:00.000Z',
  command: 'npm run bench',
  loadAverage: { start: [0.1, 0.1, 0.1], end: [0.2, 0.1, 0.1] },
}

const settings = {
  rounds: 3,
  warmupRequests: 100,
  warmupMs: 0,
  durationMs: 1000,
  payloadBytes: 96,
  coreIterations: 10,
  stackCapture: true,
}

function phase(inFlight: number, throughput: number, medianUs: number, cpuUs: number): PhaseResult {
  const completed = throughput
  return {
    inFlight,
    completed,
    errors: 0,
    firstError: undefined,
    elapsedMs: 1000,
    throughput,
    latencyUs: { median: medianUs, p99: medianUs * 2, min: medianUs / 2, max: medianUs * 3 },
    cpuMicros: {
      bus: (cpuUs * completed) / 2,
      responder: (cpuUs * completed) / 4,
      requester: (cpuUs * completed) / 4,
    },
    cpuPerRequestUs: cpuUs,
  }
}

function round(
  system: SystemId,
  number: number,
  throughput: number,
  medianUs: number,
  cpuUs: number,
): SystemRound {
  const mib = 2 ** 20
  return {
    system,
    round: number,
    phases: [phase(64, throughput, medianUs * 20, cpuUs), phase(1, 1000, medianUs, cpuUs * 2)],
    rss: {
      idle: { bus: 50 * mib, responder: 60 * mib, requester: 70 * mib },
      end: { bus: 80 * mib, responder: 90 * mib, requester: 100 * mib },
    },
  }
}

const systems = [
  { id: 'floor', title: 'floor', description: 'the floor' },
  { id: 'exorelay', title: 'ExoRelay', description: 'the relay' },
  { id: 'nats', title: 'NATS', description: 'nats', skipped: 'nats-server not installed' },
] as const

const rounds = [
  round('floor', 1, 4000, 600, 400),
  round('exorelay', 1, 2000, 900, 800),
  round('floor', 2, 5000, 700, 500),
  round('exorelay', 2, 2000, 1400, 1000),
  round('floor', 3, 3000, 650, 450),
  round('exorelay', 3, 1800, 1000, 900),
]

describe('buildReport', () => {
  const report = buildReport({ machine, settings, systems: [...systems], rounds, core: undefined })

  it('summarises each measured system by the median of its rounds', () => {
    const floor = report.summaries.find((summary) => summary.system === 'floor')
    assert.equal(floor?.rounds, 3)
    assert.equal(floor?.throughput, 4000)
    assert.equal(floor?.latencyMedianUs, 650)
    assert.equal(floor?.cpuPerRequestUs, 450)
    assert.equal(floor?.singleCpuPerRequestUs, 900)
    assert.deepEqual(floor?.rssIdleMiB, { bus: 50, responder: 60, requester: 70 })
    assert.deepEqual(floor?.cpuByProcessUs, { bus: 225, responder: 112.5, requester: 112.5 })
  })

  it('gives no summary to a skipped system', () => {
    assert.equal(
      report.summaries.some((summary) => summary.system === 'nats'),
      false,
    )
  })

  it('compares ExoRelay with the floor by the ratio of medians and within each round', () => {
    const comparison = report.comparisons.find((candidate) => candidate.to === 'floor')
    assert.equal(comparison?.throughput.ofMedians, 2000 / 4000)
    assert.deepEqual(comparison?.throughput.perRound, [0.5, 0.4, 0.6])
    assert.equal(comparison?.medianLatency.ofMedians, 1000 / 650)
    assert.deepEqual(comparison?.cpuPerRequest.perRound, [2, 2, 2])
  })

  it('makes no NATS comparison when NATS was skipped', () => {
    assert.equal(
      report.comparisons.some((candidate) => candidate.to === 'nats'),
      false,
    )
  })

  it('has a table row per round and a median row per system', () => {
    const rows = tableRows(report)
    assert.equal(rows.length, 8)
    assert.deepEqual(
      rows.map((row) => `${row[0]} ${row[1]}`),
      [
        'floor 1',
        'floor 2',
        'floor 3',
        'floor median',
        'ExoRelay 1',
        'ExoRelay 2',
        'ExoRelay 3',
        'ExoRelay median',
      ],
    )
    assert.deepEqual(rows[3]!.slice(2, 5), ['650', '1,300', '4,000'])
  })

  it('prints the ratio line with each round', () => {
    assert.match(
      ratioLines(report)[0]!,
      /^ExoRelay \/ floor: throughput @64 0\.50 \(rounds 0\.50, 0\.40, 0\.60\)/,
    )
  })

  it('notes the skipped system with its reason', () => {
    assert.ok(notes(report).includes('NATS: skipped: nats-server not installed'))
  })

  it('writes the machine, the command and the table into the Markdown', () => {
    const markdown = renderMarkdown(report)
    assert.match(markdown, /Test CPU, 2 cores, 4 GiB/)
    assert.match(markdown, /`npm run bench`/)
    assert.match(markdown, /\| ExoRelay \| median \|/)
  })

  it('warns that figures are noisy when the machine was busy', () => {
    const busy = buildReport({
      machine: { ...machine, loadAverage: { start: [3, 1, 1] } },
      settings,
      systems: [...systems],
      rounds,
      core: undefined,
    })
    assert.ok(notes(busy).some((line) => line.includes('load average reached 3')))
    assert.equal(
      notes(report).some((line) => line.includes('load average')),
      false,
    )
  })
})

describe('the registration flood', () => {
  const counts = (completed: number, failed = 0): RegistrationCounts => ({
    elapsedMs: 2000,
    due: 2000,
    completed,
    failed,
    skipped: 2000 - completed - failed,
    firstError: failed === 0 ? undefined : 'Error: the bus answered 500',
    perSecond: [completed / 2, completed / 2],
    latencyMs: { median: 0.5, p99: 3.25, max: 9 },
  })
  const flooded = (number: number, throughput: number, registrations: RegistrationCounts) => {
    const plain = round('exorelay-flood', number, throughput, 1000, 900)
    return {
      ...plain,
      phases: plain.phases.map((result) => ({ ...result, registrations })),
    }
  }
  const report = buildReport({
    machine,
    settings,
    systems: [
      { id: 'exorelay', title: 'ExoRelay', description: 'the relay' },
      { id: 'exorelay-flood', title: 'ExoRelay, 1,000 re-registering', description: 'flooded' },
    ],
    rounds: [
      round('exorelay', 1, 10_000, 900, 300),
      flooded(1, 2000, counts(1990, 10)),
      round('exorelay', 2, 8000, 900, 300),
      flooded(2, 4000, counts(2000)),
    ],
    core: undefined,
  })

  it('states throughput with and without the flood, their ratio and the PUTs the bus took', () => {
    assert.equal(
      floodLines(report)[0],
      'ExoRelay, 1,000 re-registering: 3,000 req/s @64 against 9,000 without (ExoRelay row), ' +
        'ratio 0.33 (rounds 0.20, 0.50); 998 PUT/s completed @64 (median), 20 failed in all phases',
    )
  })

  it('gives what the flood achieved in every measured phase', () => {
    const lines = floodLines(report)
    assert.equal(lines.length, 5)
    assert.match(lines[1]!, /^ExoRelay, 1,000 re-registering round 1 @64: 1,000 PUT\/s due/)
    assert.match(lines[4]!, /round 2 @1: /)
  })

  it('compares the flooded row with the ExoRelay row in the ratio lines', () => {
    assert.match(
      ratioLines(report)[0]!,
      /^ExoRelay, 1,000 re-registering \/ ExoRelay: throughput @64 0\.33 \(rounds 0\.20, 0\.50\)/,
    )
  })

  it('puts the flood into the console text and a section of the Markdown', () => {
    assert.match(renderText(report), /PUT\/s completed @64/)
    assert.match(
      renderMarkdown(report),
      /## Registration flood\n\n- ExoRelay, 1,000 re-registering: /,
    )
  })

  it('notes failed re-registrations', () => {
    assert.ok(
      notes(report).some((line) =>
        line.includes(
          '10 re-registration(s) of the flood failed, first: Error: the bus answered 500',
        ),
      ),
    )
  })

  it('writes nothing about a flood when none ran', () => {
    const plain = buildReport({
      machine,
      settings,
      systems: [{ id: 'exorelay', title: 'ExoRelay', description: 'the relay' }],
      rounds: [round('exorelay', 1, 10_000, 900, 300)],
      core: undefined,
    })
    assert.deepEqual(floodLines(plain), [])
    assert.doesNotMatch(renderMarkdown(plain), /Registration flood/)
  })
})

describe('registrationFigures', () => {
  it('gives the PUTs due and completed per second, each second, failures, skips and latency', () => {
    assert.equal(
      registrationFigures({
        elapsedMs: 2500,
        due: 2500,
        completed: 2480,
        failed: 5,
        skipped: 15,
        firstError: 'TimeoutError: The operation was aborted due to timeout',
        perSecond: [1000, 990],
        latencyMs: { median: 0.64, p99: 12.34, max: 40 },
      }),
      '1,000 PUT/s due, 992 completed/s (each second 1,000, 990), 5 failed, 15 skipped ' +
        '(previous PUT still under way); PUT p50 0.6 ms, p99 12.3 ms, max 40.0 ms; ' +
        'first failure: TimeoutError: The operation was aborted due to timeout',
    )
  })

  it('leaves out the seconds and the latency when there are none', () => {
    assert.equal(
      registrationFigures({
        elapsedMs: 500,
        due: 500,
        completed: 0,
        failed: 0,
        skipped: 500,
        firstError: undefined,
        perSecond: [],
        latencyMs: undefined,
      }),
      '1,000 PUT/s due, 0 completed/s, 0 failed, 500 skipped (previous PUT still under way)',
    )
  })
})

describe('OpenTelemetry rows', () => {
  const report = buildReport({
    machine,
    settings,
    systems: [
      { id: 'exorelay', title: 'ExoRelay', description: 'the relay' },
      { id: 'exorelay-otel-api', title: 'ExoRelay + OTel API, no SDK', description: 'api' },
      { id: 'exorelay-otel-sdk', title: 'ExoRelay + OTel SDK', description: 'sdk' },
      { id: 'exorelay-nats', title: 'ExoRelay over NATS', description: 'nats' },
      { id: 'exorelay-nats-otel-sdk', title: 'ExoRelay over NATS + OTel SDK', description: 'sdk' },
    ],
    rounds: [
      round('exorelay', 1, 10_000, 500, 100),
      round('exorelay-otel-api', 1, 9_800, 500, 102),
      round('exorelay-otel-sdk', 1, 8_000, 600, 125),
      round('exorelay-nats', 1, 20_000, 300, 50),
      round('exorelay-nats-otel-sdk', 1, 15_000, 400, 70),
    ],
    core: undefined,
  })

  it('compares each with the plain row of its transport, in the same round', () => {
    assert.deepEqual(
      report.comparisons.map(({ of, to, throughput }) => [of, to, throughput.perRound]),
      [
        ['exorelay-otel-api', 'exorelay', [0.98]],
        ['exorelay-otel-sdk', 'exorelay', [0.8]],
        ['exorelay-nats-otel-sdk', 'exorelay-nats', [0.75]],
      ],
    )
  })
})

describe('Moleculer as a peer and the goals', () => {
  const titles: Partial<Record<SystemId, string>> = {
    exorelay: 'ExoRelay',
    nats: 'NATS',
    'exorelay-nats': 'ExoRelay over NATS',
    'moleculer-nats': 'Moleculer over NATS',
    'moleculer-tcp': 'Moleculer over TCP',
  }
  const peers = Object.entries(titles).map(([id, title]) => ({
    id: id as SystemId,
    title: title!,
    description: title!,
  }))
  // Moleculer over TCP has no bus: its phases have no `bus` process.
  const withoutBus = (result: SystemRound): SystemRound => ({
    ...result,
    phases: result.phases.map((phase) => {
      const { bus: _, ...cpuMicros } = phase.cpuMicros
      return { ...phase, cpuMicros }
    }),
    rss: {
      idle: { responder: result.rss.idle.responder!, requester: result.rss.idle.requester! },
      end: { responder: result.rss.end.responder!, requester: result.rss.end.requester! },
    },
  })
  const report = buildReport({
    machine,
    settings,
    systems: peers,
    rounds: [
      round('exorelay', 1, 9_000, 500, 100),
      round('nats', 1, 18_000, 300, 60),
      round('exorelay-nats', 1, 20_000, 350, 55),
      round('moleculer-nats', 1, 25_000, 400, 44),
      withoutBus(round('moleculer-tcp', 1, 30_000, 200, 40)),
      round('exorelay', 2, 10_000, 500, 100),
      round('nats', 2, 20_000, 300, 60),
      round('exorelay-nats', 2, 20_000, 350, 39),
      round('moleculer-nats', 2, 20_000, 400, 50),
      withoutBus(round('moleculer-tcp', 2, 30_000, 200, 40)),
    ],
    core: undefined,
  })

  it('compares ExoRelay over NATS with Moleculer over NATS, and Moleculer over TCP with it', () => {
    const pairs = report.comparisons.map(({ of, to, throughput }) => [of, to, throughput.perRound])
    assert.deepEqual(pairs, [
      ['exorelay', 'nats', [0.5, 0.5]],
      ['exorelay-nats', 'nats', [20_000 / 18_000, 1]],
      ['exorelay-nats', 'moleculer-nats', [0.8, 1]],
      ['moleculer-tcp', 'moleculer-nats', [1.2, 1.5]],
    ])
  })

  it('prints each goal with its ratio of medians, each round and the goal beside it', () => {
    assert.deepEqual(goalLines(report), [
      'goal 2: ExoRelay over NATS / Moleculer over NATS, throughput @64 0.89 (rounds 0.80, 1.00); goal >= 1.0: not met',
      'goal 2: ExoRelay over NATS / Moleculer over NATS, CPU per request/reply @64 1.00 (rounds 1.25, 0.78); goal <= 1.0: met',
      'goal 3: ExoRelay / NATS, throughput @64 0.50 (rounds 0.50, 0.50); goal >= 0.8, aiming at 1.0: not met',
    ])
    assert.equal(report.goals[0]?.ratio.ofMedians, 20_000 / 22_500)
  })

  it('puts the goals into the console text and a section of the Markdown', () => {
    assert.match(renderText(report), /goal 3: ExoRelay \/ NATS/)
    assert.match(renderMarkdown(report), /## Goals\n\n- goal 2: ExoRelay over NATS/)
  })

  it('lists no goal whose systems did not both run', () => {
    const alone = buildReport({
      machine,
      settings,
      systems: peers,
      rounds: [round('exorelay-nats', 1, 20_000, 350, 55)],
      core: undefined,
    })
    assert.deepEqual(goalLines(alone), [])
    assert.equal(renderMarkdown(alone).includes('## Goals'), false)
  })

  it('shows a dash for the bus of a system that has none, in every round and the median', () => {
    const rows = tableRows(report).filter((row) => row[0] === 'Moleculer over TCP')
    assert.deepEqual(
      rows.map((row) => row.slice(-3)),
      [
        ['-/10/10', '-/60/70', '-/90/100'],
        ['-/10/10', '-/60/70', '-/90/100'],
        ['-/10/10', '-/60/70', '-/90/100'],
      ],
    )
  })

  it('says which stack capture the run measured', () => {
    assert.match(renderMarkdown(report), /- Options: default options: /)
    const bare = buildReport({
      machine,
      settings: { ...settings, stackCapture: false },
      systems: peers,
      rounds: [],
      core: undefined,
    })
    assert.match(renderMarkdown(bare), /- Options: --no-stacks: /)
  })
})
