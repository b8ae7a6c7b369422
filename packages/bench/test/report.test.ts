import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { CoreMicroResult } from '../src/core-micro.js'
import type { RegistrationCounts } from '../src/flood.js'
import type { MachineInfo } from '../src/machine.js'
import {
  buildReport,
  COLD_START_CHART,
  coldProgressLine,
  coldStartTable,
  coreLines,
  coreProgressLines,
  floodLines,
  goal1Lines,
  goalLines,
  notes,
  ratioLines,
  registrationFigures,
  renderMarkdown,
  renderText,
  tableRows,
  validationTable,
  writeResults,
} from '../src/report.js'
import type { ColdStart, PhaseResult, SystemRound } from '../src/run-system.js'
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
  coldRequests: 1000,
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
    phases: [
      phase(1, 1000, medianUs, cpuUs * 2),
      phase(8, 4000, medianUs * 3, cpuUs),
      phase(64, throughput, medianUs * 20, cpuUs),
    ],
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
    assert.deepEqual(rows[3]!.slice(2, 6), ['650', '1,300', '1,950', '4,000'])
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
      // The @1 and @64 phases only, to keep the lines per round few.
      phases: plain.phases
        .filter((result) => result.inFlight !== 8)
        .map((result) => ({ ...result, registrations })),
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
    assert.match(lines[1]!, /^ExoRelay, 1,000 re-registering round 1 @1: 1,000 PUT\/s due/)
    assert.match(lines[4]!, /round 2 @64: /)
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

describe('goal 1, fast from the first request', () => {
  const report = buildReport({ machine, settings, systems: [...systems], rounds, core: undefined })

  it('gives ExoRelay / floor p50 @1 and @8 within each round and of the medians', () => {
    const comparison = report.comparisons.find((candidate) => candidate.to === 'floor')
    assert.deepEqual(comparison?.lightMedianLatency.perRound, [1.5, 2, 1000 / 650])
    assert.equal(comparison?.lightMedianLatency.ofMedians, 1000 / 650)
  })

  it('prints both ratios with the goal beside them, and whether it is met', () => {
    assert.deepEqual(goal1Lines(report), [
      'goal 1, fast from the first request: ExoRelay / floor p50 @1 1.54 (rounds 1.50, 2.00, 1.54), ' +
        'p50 @8 1.54 (rounds 1.50, 2.00, 1.54); goal: at most 1.2 each: not met',
    ])
    assert.match(renderText(report), /goal 1, fast from the first request: /)
    assert.match(renderMarkdown(report), /- goal 1, fast from the first request: /)
    // Goals 2 and 3 need systems this run did not have: each says which.
    assert.match(
      renderText(report),
      /goal 2: not measured in this run: it compares exorelay-nats and moleculer-nats \(--only exorelay-nats,moleculer-nats\)/,
    )
    assert.match(
      renderMarkdown(report),
      /- goal 3: not measured in this run: .*\(--only exorelay,nats\)/,
    )
  })

  it('says the goal is met when both ratios are at most 1.2', () => {
    const close = buildReport({
      machine,
      settings,
      systems: [...systems],
      rounds: [round('floor', 1, 4000, 1000, 400), round('exorelay', 1, 8000, 1200, 200)],
      core: undefined,
    })
    assert.match(goal1Lines(close)[0]!, /p50 @1 1\.20 .*p50 @8 1\.20 .*: met$/)
  })

  it('has no goal line without both ExoRelay and the floor', () => {
    const alone = buildReport({
      machine,
      settings,
      systems: [{ id: 'exorelay', title: 'ExoRelay', description: 'the relay' }],
      rounds: [round('exorelay', 1, 10_000, 900, 300)],
      core: undefined,
    })
    assert.deepEqual(goal1Lines(alone), [])
  })
})

describe('the cold start', () => {
  /** A cold-start phase of 4 windows of 250 whose p50s are `medians`, µs. */
  const cold = (firstUs: number, medians: readonly number[]): ColdStart => ({
    completed: medians.length * 250,
    errors: 0,
    firstError: undefined,
    elapsedMs: 2000,
    firstUs,
    windows: medians.map((median, index) => ({
      after: index * 250,
      count: 250,
      median,
      p99: median * 3,
      mean: median * 1.2,
    })),
    cpuMicros: { bus: 100_000, responder: 50_000, requester: 50_000 },
    cpuPerRequestUs: 200,
  })
  const withCold = (plain: SystemRound, start: ColdStart): SystemRound => ({
    ...plain,
    cold: start,
  })
  const report = buildReport({
    machine,
    settings,
    systems: [...systems],
    rounds: [
      withCold(round('floor', 1, 4000, 600, 400), cold(9000, [2400, 1200, 700, 600])),
      withCold(round('exorelay', 1, 2000, 900, 800), cold(30_000, [3000, 1500, 1100, 1000])),
      withCold(round('floor', 2, 5000, 700, 500), cold(7000, [2000, 1000, 800, 650])),
      withCold(round('exorelay', 2, 2000, 1400, 1000), cold(20_000, [2600, 1300, 1000, 900])),
      withCold(round('floor', 3, 3000, 650, 450), cold(8000, [2200, 1100, 600, 550])),
      // A round cut short by the phase's time cap: its missing windows are left out.
      withCold(round('exorelay', 3, 1800, 1000, 900), cold(25_000, [2800, 1400])),
    ],
    core: undefined,
  })

  it('summarises each window by the median across rounds of its p50', () => {
    const exorelay = report.coldStart.find((summary) => summary.system === 'exorelay')
    assert.equal(exorelay?.firstUs, 25_000)
    assert.deepEqual(
      exorelay?.windows.map((window) => [window.after, window.count, window.median]),
      [
        [0, 250, 2800],
        [250, 250, 1400],
        [500, 250, 1050],
        [750, 250, 950],
      ],
    )
  })

  it('tables the windows as rows and the systems as columns, the first request/reply on top', () => {
    assert.deepEqual(coldStartTable(report), {
      headers: ['request/replies', 'floor', 'ExoRelay'],
      rows: [
        ['first', '8,000', '25,000'],
        ['1–250', '2,200', '2,800'],
        ['251–500', '1,100', '1,400'],
        ['501–750', '700', '1,050'],
        ['751–1,000', '600', '950'],
      ],
    })
  })

  it('puts the table into the console text and the Markdown, which shows the chart', () => {
    assert.match(renderText(report), /request\/replies {2}floor {2}ExoRelay\nfirst +8,000 +25,000/)
    const markdown = renderMarkdown(report)
    assert.match(markdown, /## Cold start\n/)
    assert.match(markdown, /\| 751–1,000 +\| +600 \| +950 \|/)
    assert.match(markdown, /!\[Cold start: p50 per window\]\(cold-start\.svg\)/)
  })

  it('writes the chart beside the results, a line per system, and the raw windows into the JSON', async (t) => {
    const directory = await mkdtemp(join(tmpdir(), 'bench-report-'))
    t.after(() => rm(directory, { recursive: true, force: true }))
    const files = await writeResults(report, directory)
    assert.deepEqual(files, [
      join(directory, 'latest.json'),
      join(directory, 'latest.md'),
      join(directory, COLD_START_CHART),
    ])
    const svg = await readFile(join(directory, COLD_START_CHART), 'utf8')
    assert.equal(svg.match(/<polyline /g)?.length, 2)
    assert.match(svg, /p50 µs \(log scale\)/)
    const json = JSON.parse(await readFile(join(directory, 'latest.json'), 'utf8'))
    assert.equal(json.rounds[5].cold.windows.length, 2)
  })

  it('writes no chart and no section when no cold-start phase ran', async (t) => {
    const plain = buildReport({ machine, settings, systems: [...systems], rounds, core: undefined })
    assert.deepEqual(plain.coldStart, [])
    assert.doesNotMatch(renderMarkdown(plain), /Cold start/)
    const directory = await mkdtemp(join(tmpdir(), 'bench-report-'))
    t.after(() => rm(directory, { recursive: true, force: true }))
    assert.equal((await writeResults(plain, directory)).length, 2)
  })

  it('gives the first request/reply and the first and last windows as progress', () => {
    assert.equal(
      coldProgressLine('ExoRelay', 1, cold(30_000, [3000, 1500, 1100, 1000])),
      'round 1 ExoRelay cold start (1,000 @1): first 30,000 µs, p50 3,000 µs in the first 250, ' +
        '1,000 µs in the last 250, CPU 200 µs/req',
    )
  })

  it('notes failed request/replies of the cold-start phase', () => {
    const failed = buildReport({
      machine,
      settings,
      systems: [...systems],
      rounds: [
        withCold(round('exorelay', 1, 2000, 900, 800), {
          ...cold(30_000, [3000]),
          errors: 2,
          firstError: 'TimeoutError: no reply',
        }),
      ],
      core: undefined,
    })
    assert.ok(
      notes(failed).includes(
        'ExoRelay round 1 cold start: 2 failed request(s), first: TimeoutError: no reply',
      ),
    )
  })
})

describe('the core micro-benchmark and the cost of validation', () => {
  // One contract variant of a round: its figure without a contract, and what a validation adds.
  const variant = (
    validator: 'zod' | 'valibot',
    validateOutgoing: boolean,
    without: number,
    perValidation: number,
  ) => {
    const validations = validateOutgoing ? 4 : 2
    return {
      validator,
      validateOutgoing,
      validations,
      nsPerRequestReply: without + validations * perValidation,
      nsPerRequestReplyWithoutContract: without,
    }
  }
  // Round by round: the plain figures, then each contract's with its own figure without one.
  const coreRound = (none: number, zod: number, valibot: number): CoreMicroResult => ({
    iterations: 10,
    nsPerRequestReply: none,
    nsPerRequestReplyWithJson: none * 2,
    nsPerRequestReplyWithoutStacks: none - 100,
    validation: [
      variant('zod', false, none, zod),
      // Its figure without a contract 40 ns above the plain one: the pair's difference counts.
      variant('zod', true, none + 40, zod - 10),
      variant('valibot', false, none, valibot),
      variant('valibot', true, none, valibot),
    ],
  })
  const core = [coreRound(2000, 300, 500), coreRound(2400, 100, 400), coreRound(2200, 200, 900)]
  const report = buildReport({ machine, settings, systems: [], rounds: [], core })

  it('keeps the plain figures as they were: the median of the rounds', () => {
    assert.equal(report.core?.nsPerRequestReply, 2200)
    assert.equal(report.core?.nsPerRequestReplyWithJson, 4400)
    assert.equal(report.core?.nsPerRequestReplyWithoutStacks, 2100)
    assert.match(coreLines(report)[0]!, /: 2,200 ns per request\/reply .*4,400 ns with the JSON/)
  })

  it('costs a validation by the difference within each round, divided by the validations', () => {
    const zod = report.core?.validation[0]
    assert.deepEqual(zod?.nsPerValidationByRound, [300, 100, 200])
    assert.equal(zod?.nsPerValidation, 200)
    assert.equal(zod?.nsPerRequestReply, 2600)
    assert.equal(zod?.nsPerRequestReplyWithoutContract, 2200)
    assert.deepEqual(report.core?.validation[1]?.nsPerValidationByRound, [290, 90, 190])
    assert.equal(report.core?.validation[3]?.nsPerValidation, 500)
  })

  it('tables each validator without and with validateOutgoing', () => {
    const { headers, rows } = validationTable(report)
    assert.equal(headers.length, 7)
    assert.equal(headers[5], 'ns per validation')
    assert.deepEqual(rows, [
      ['zod', 'false', '2', '2,600', '2,200', '200', '300/100/200'],
      ['zod', 'true', '4', '3,000', '2,240', '190', '290/90/190'],
      ['valibot', 'false', '2', '3,200', '2,200', '500', '500/400/900'],
      ['valibot', 'true', '4', '4,000', '2,200', '500', '500/400/900'],
    ])
  })

  it('prints each round with and without each contract as progress', () => {
    assert.deepEqual(coreProgressLines(1, core[0]!), [
      'round 1 core: 2000 ns per request/reply, 4000 ns with JSON, 1900 ns with stackTraces: false',
      'round 1 core with a contract: zod 2600 ns (without 2000), zod + validateOutgoing 3200 ns ' +
        '(without 2040), valibot 3000 ns (without 2000), valibot + validateOutgoing 4000 ns (without 2000)',
    ])
  })

  it('puts the table into the console text and the Markdown, saying what a validation is', async (t) => {
    assert.match(
      renderText(report),
      /ns per validation = \(with contract − without\) \/ validations/,
    )
    assert.match(renderText(report), /\nzod +false +2 +2,600 +2,200 +200 +300\/100\/200\n/)
    const markdown = renderMarkdown(report)
    assert.match(markdown, /## Core alone\n\n- core micro[^\n]*\n\nValidation: /)
    assert.match(
      markdown,
      /\| valibot +\| true +\| +4 \| +4,000 \| +2,200 \| +500 \| 500\/400\/900 \|/,
    )
    const directory = await mkdtemp(join(tmpdir(), 'bench-report-'))
    t.after(() => rm(directory, { recursive: true, force: true }))
    await writeResults(report, directory)
    const json = JSON.parse(await readFile(join(directory, 'latest.json'), 'utf8'))
    assert.equal(json.core.validation[0].nsPerValidation, 200)
    assert.equal(json.core.rounds[2].validation[3].nsPerRequestReply, 5800)
  })

  it('has no validation table when the rounds measured no contract', () => {
    const plain = buildReport({
      machine,
      settings,
      systems: [],
      rounds: [],
      core: core.map((result) => ({ ...result, validation: [] })),
    })
    assert.deepEqual(validationTable(plain).rows, [])
    assert.equal(coreProgressLines(1, plain.core!.rounds[0]!).length, 1)
    assert.doesNotMatch(renderMarkdown(plain), /Validation:/)
    assert.doesNotMatch(renderText(plain), /Validation:/)
  })
})
