import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CoreMicroResult } from './core-micro.js'
import type { RegistrationCounts } from './flood.js'
import type { MachineInfo } from './machine.js'
import { type Alignment, markdownTable } from './markdown.js'
import { CONCURRENT, type PhaseResult, SINGLE, type SystemRound } from './run-system.js'
import type { SystemId } from './scenario.js'
import { median, ratio } from './stats.js'

/** The run's settings, as they go into the report. */
export interface ReportSettings {
  readonly rounds: number
  readonly warmupRequests: number
  readonly warmupMs: number
  readonly durationMs: number
  readonly payloadBytes: number
  readonly coreIterations: number
  /** The libraries' default per-request stack capture, or none (`--no-stacks`). */
  readonly stackCapture: boolean
}

/** A system as the report lists it; `skipped` says why it has no rows. */
export interface ReportedSystem {
  readonly id: SystemId
  readonly title: string
  readonly description: string
  readonly skipped?: string | undefined
}

/** One system's figures: the median across rounds of each per-round figure. */
export interface SystemSummary {
  readonly system: SystemId
  readonly rounds: number
  /** Median latency with 1 in flight, µs. */
  readonly latencyMedianUs: number | undefined
  /** p99 latency with 1 in flight, µs. */
  readonly latencyP99Us: number | undefined
  /** Request/replies per second with 64 in flight. */
  readonly throughput: number | undefined
  /** p99 latency with 64 in flight, ms. */
  readonly concurrentP99Ms: number | undefined
  /** CPU µs per request/reply, all processes, with 64 in flight. */
  readonly cpuPerRequestUs: number | undefined
  /** CPU µs per request/reply, all processes, with 1 in flight. */
  readonly singleCpuPerRequestUs: number | undefined
  /** CPU µs per request/reply with 64 in flight, by process. */
  readonly cpuByProcessUs: Readonly<Record<string, number>>
  readonly rssIdleMiB: Readonly<Record<string, number>>
  readonly rssEndMiB: Readonly<Record<string, number>>
}

/** A ratio of two systems' medians, and the same ratio within each round. */
export interface RatioFigure {
  readonly ofMedians: number | undefined
  readonly perRound: readonly number[]
}

/** How one system compares with another: `of / to` for each headline figure. */
export interface Comparison {
  readonly of: SystemId
  readonly to: SystemId
  readonly throughput: RatioFigure
  readonly medianLatency: RatioFigure
  readonly cpuPerRequest: RatioFigure
}

export interface CoreSummary {
  readonly rounds: readonly CoreMicroResult[]
  readonly nsPerRequestReply: number | undefined
  readonly nsPerRequestReplyWithJson: number | undefined
  readonly nsPerRequestReplyWithoutStacks: number | undefined
}

/**
 * A goal of issue 19, a ratio of two systems' figures in one run: `of / to` of `figure` must
 * be at least (`atLeast`) or at most (`atMost`) the bound.
 */
export interface Goal {
  readonly name: string
  readonly of: SystemId
  readonly to: SystemId
  readonly figure: 'throughput' | 'cpuPerRequest'
  readonly atLeast?: number | undefined
  readonly atMost?: number | undefined
  /** What the goal aims at beyond the bound, e.g. `aiming at 1.0`. */
  readonly aim?: string | undefined
}

export const GOALS: readonly Goal[] = [
  // Goal 2: ExoRelay over NATS at or above Moleculer over NATS, at or below it in CPU.
  { name: 'goal 2', of: 'exorelay-nats', to: 'moleculer-nats', figure: 'throughput', atLeast: 1 },
  { name: 'goal 2', of: 'exorelay-nats', to: 'moleculer-nats', figure: 'cpuPerRequest', atMost: 1 },
  // Goal 3: ExoRelay over HTTP toward raw NATS.
  {
    name: 'goal 3',
    of: 'exorelay',
    to: 'nats',
    figure: 'throughput',
    atLeast: 0.8,
    aim: 'aiming at 1.0',
  },
]

/** A goal and how the run did: the ratio of the medians and within each round. */
export interface GoalFigure extends Goal {
  readonly ratio: RatioFigure
  /** Whether the ratio of the medians meets the goal; `undefined` when there is none. */
  readonly met: boolean | undefined
}

/** Everything one run measured; `latest.json` is this object. */
export interface BenchReport {
  readonly machine: MachineInfo
  readonly settings: ReportSettings
  readonly systems: readonly ReportedSystem[]
  readonly rounds: readonly SystemRound[]
  readonly summaries: readonly SystemSummary[]
  readonly comparisons: readonly Comparison[]
  readonly goals: readonly GoalFigure[]
  readonly core: CoreSummary | undefined
}

export interface ReportInput {
  readonly machine: MachineInfo
  readonly settings: ReportSettings
  readonly systems: readonly ReportedSystem[]
  readonly rounds: readonly SystemRound[]
  readonly core: readonly CoreMicroResult[] | undefined
}

// Every per-round figure the summary and the ratios are made of.
const figures = {
  latencyMedianUs: (round: SystemRound) => phase(round, SINGLE)?.latencyUs?.median,
  latencyP99Us: (round: SystemRound) => phase(round, SINGLE)?.latencyUs?.p99,
  throughput: (round: SystemRound) => phase(round, CONCURRENT)?.throughput,
  concurrentP99Ms: (round: SystemRound) => msOf(phase(round, CONCURRENT)?.latencyUs?.p99),
  cpuPerRequestUs: (round: SystemRound) => phase(round, CONCURRENT)?.cpuPerRequestUs,
  singleCpuPerRequestUs: (round: SystemRound) => phase(round, SINGLE)?.cpuPerRequestUs,
}

/**
 * Summarises a run: medians across rounds per system, and the ratios ExoRelay/floor and
 * ExoRelay/NATS, both of the medians and within each round (rounds interleave the systems,
 * so a round's ratio compares runs made seconds apart).
 */
export function buildReport(input: ReportInput): BenchReport {
  const measured = input.systems.filter((system) => system.skipped === undefined)
  const summaries = measured
    .map((system) => summarize(system.id, input.rounds))
    .filter((summary) => summary.rounds > 0)
  const comparisons: Comparison[] = []
  // ExoRelay against the floor and NATS; ExoRelay over NATS against raw NATS (issue 6's row).
  const pairs = [
    ['exorelay', 'floor'],
    // What the batch extension buys: the same relays and bus, one HTTP request per message.
    ['exorelay-unbatched', 'floor'],
    ['exorelay', 'exorelay-unbatched'],
    ['exorelay', 'nats'],
    ['exorelay-nats', 'nats'],
    // Moleculer as a peer (issue 19): ExoRelay over NATS against it on the same nats-server,
    // and what Moleculer's own TCP transporter does without a bus, for context.
    ['exorelay-nats', 'moleculer-nats'],
    ['moleculer-tcp', 'moleculer-nats'],
    // What a flood of unchanged re-registrations costs the bus's traffic (issue 14).
    ['exorelay-flood', 'exorelay'],
    // What clients of the bus's event stream cost its traffic (issue 18).
    ['exorelay-events-1', 'exorelay'],
    ['exorelay-events-100', 'exorelay'],
    // What OpenTelemetry costs, without and with an SDK (issue 15).
    ['exorelay-otel-api', 'exorelay'],
    ['exorelay-otel-sdk', 'exorelay'],
    ['exorelay-nats-otel-api', 'exorelay-nats'],
    ['exorelay-nats-otel-sdk', 'exorelay-nats'],
    // The floor with one ExoRelay component: what that component costs.
    ['mix-bus', 'floor'],
    ['mix-requester', 'floor'],
    ['mix-responder', 'floor'],
  ] as const
  const has = (id: SystemId) => summaries.some((summary) => summary.system === id)
  for (const [of, to] of pairs) {
    if (has(of) && has(to)) comparisons.push(compare(of, to, input.rounds))
  }
  return {
    machine: input.machine,
    settings: input.settings,
    systems: input.systems,
    rounds: input.rounds,
    summaries,
    comparisons,
    goals: goalFigures(comparisons),
    core:
      input.core === undefined || input.core.length === 0 ? undefined : summarizeCore(input.core),
  }
}

function goalFigures(comparisons: readonly Comparison[]): GoalFigure[] {
  return GOALS.flatMap((goal) => {
    const comparison = comparisons.find(
      (candidate) => candidate.of === goal.of && candidate.to === goal.to,
    )
    if (comparison === undefined) return []
    const figure = comparison[goal.figure]
    const value = figure.ofMedians
    const met =
      value === undefined
        ? undefined
        : (goal.atLeast === undefined || value >= goal.atLeast) &&
          (goal.atMost === undefined || value <= goal.atMost)
    return [{ ...goal, ratio: figure, met }]
  })
}

function summarize(system: SystemId, all: readonly SystemRound[]): SystemSummary {
  const rounds = all.filter((round) => round.system === system)
  const medianOf = (figure: (round: SystemRound) => number | undefined) =>
    medianOrUndefined(rounds.map(figure))
  const perProcess = (pick: (round: SystemRound) => Readonly<Record<string, number>>) => {
    const labels = [...new Set(rounds.flatMap((round) => Object.keys(pick(round))))]
    return Object.fromEntries(
      labels.map((label) => [label, medianOrUndefined(rounds.map((round) => pick(round)[label]))!]),
    )
  }
  const mib = (bytes: Readonly<Record<string, number>>) =>
    Object.fromEntries(Object.entries(bytes).map(([label, value]) => [label, value / 2 ** 20]))
  return {
    system,
    rounds: rounds.length,
    latencyMedianUs: medianOf(figures.latencyMedianUs),
    latencyP99Us: medianOf(figures.latencyP99Us),
    throughput: medianOf(figures.throughput),
    concurrentP99Ms: medianOf(figures.concurrentP99Ms),
    cpuPerRequestUs: medianOf(figures.cpuPerRequestUs),
    singleCpuPerRequestUs: medianOf(figures.singleCpuPerRequestUs),
    cpuByProcessUs: perProcess((round) => cpuPerRequestByProcess(phase(round, CONCURRENT))),
    rssIdleMiB: perProcess((round) => mib(round.rss.idle)),
    rssEndMiB: perProcess((round) => mib(round.rss.end)),
  }
}

function compare(of: SystemId, to: SystemId, rounds: readonly SystemRound[]): Comparison {
  const figure = (pick: (round: SystemRound) => number | undefined): RatioFigure => {
    const ofRounds = rounds.filter((round) => round.system === of)
    const toRounds = rounds.filter((round) => round.system === to)
    const perRound: number[] = []
    for (const ofRound of ofRounds) {
      const toRound = toRounds.find((round) => round.round === ofRound.round)
      const value = toRound === undefined ? undefined : ratio(pick(ofRound), pick(toRound))
      if (value !== undefined) perRound.push(value)
    }
    return {
      ofMedians: ratio(
        medianOrUndefined(ofRounds.map(pick)),
        medianOrUndefined(toRounds.map(pick)),
      ),
      perRound,
    }
  }
  return {
    of,
    to,
    throughput: figure(figures.throughput),
    medianLatency: figure(figures.latencyMedianUs),
    cpuPerRequest: figure(figures.cpuPerRequestUs),
  }
}

function summarizeCore(rounds: readonly CoreMicroResult[]): CoreSummary {
  return {
    rounds,
    nsPerRequestReply: median(rounds.map((round) => round.nsPerRequestReply)),
    nsPerRequestReplyWithJson: median(rounds.map((round) => round.nsPerRequestReplyWithJson)),
    nsPerRequestReplyWithoutStacks: median(
      rounds.map((round) => round.nsPerRequestReplyWithoutStacks),
    ),
  }
}

function phase(round: SystemRound, inFlight: number): PhaseResult | undefined {
  return round.phases.find((candidate) => candidate.inFlight === inFlight)
}

function cpuPerRequestByProcess(result: PhaseResult | undefined): Record<string, number> {
  if (result === undefined || result.completed === 0) return {}
  return Object.fromEntries(
    Object.entries(result.cpuMicros).map(([label, micros]) => [label, micros / result.completed]),
  )
}

function medianOrUndefined(values: readonly (number | undefined)[]): number | undefined {
  const present = values.filter((value): value is number => value !== undefined)
  return present.length === 0 ? undefined : median(present)
}

function msOf(micros: number | undefined): number | undefined {
  return micros === undefined ? undefined : micros / 1000
}

// ---- rendering -------------------------------------------------------------------------

const HEADERS = [
  'system',
  'round',
  'p50 µs @1',
  'p99 µs @1',
  'req/s @64',
  'p99 ms @64',
  'CPU µs/req @64',
  'CPU µs/req @1',
  'CPU µs/req @64 bus/resp/req',
  'RSS idle MiB bus/resp/req',
  'RSS end MiB bus/resp/req',
]
/** Columns 0 and 1 are text; the rest are numbers, right-aligned in the console. */
const FIRST_NUMBER_COLUMN = 2
const LABELS = ['bus', 'responder', 'requester']

/** The results table: each round's row, then the median row, per system. */
export function tableRows(report: BenchReport): string[][] {
  const rows: string[][] = []
  for (const summary of report.summaries) {
    const title = titleOf(report, summary.system)
    for (const round of report.rounds.filter((candidate) => candidate.system === summary.system)) {
      const single = phase(round, SINGLE)
      const concurrent = phase(round, CONCURRENT)
      rows.push([
        title,
        String(round.round),
        integer(single?.latencyUs?.median),
        integer(single?.latencyUs?.p99),
        integer(concurrent?.throughput),
        decimal(msOf(concurrent?.latencyUs?.p99), 1),
        integer(concurrent?.cpuPerRequestUs),
        integer(single?.cpuPerRequestUs),
        perLabel(cpuPerRequestByProcess(concurrent), integer),
        perLabel(mibOf(round.rss.idle), integer),
        perLabel(mibOf(round.rss.end), integer),
      ])
    }
    rows.push([
      title,
      'median',
      integer(summary.latencyMedianUs),
      integer(summary.latencyP99Us),
      integer(summary.throughput),
      decimal(summary.concurrentP99Ms, 1),
      integer(summary.cpuPerRequestUs),
      integer(summary.singleCpuPerRequestUs),
      perLabel(summary.cpuByProcessUs, integer),
      perLabel(summary.rssIdleMiB, integer),
      perLabel(summary.rssEndMiB, integer),
    ])
  }
  return rows
}

/** The ratio lines: `ExoRelay / floor: throughput 0.52 (rounds 0.50, 0.53, 0.52) …`. */
export function ratioLines(report: BenchReport): string[] {
  return report.comparisons.map((comparison) => {
    const parts = [
      ['throughput @64', comparison.throughput],
      ['median latency @1', comparison.medianLatency],
      ['CPU per request/reply @64', comparison.cpuPerRequest],
    ] as const
    const text = parts.map(([name, figure]) => `${name} ${ratioText(figure)}`).join('; ')
    return `${titleOf(report, comparison.of)} / ${titleOf(report, comparison.to)}: ${text}`
  })
}

/** `0.85 (rounds 0.84, 0.86, 0.85)`: the ratio of the medians, then within each round. */
function ratioText(figure: RatioFigure): string {
  return `${decimal(figure.ofMedians, 2)} (rounds ${figure.perRound.map((value) => decimal(value, 2)).join(', ') || 'n/a'})`
}

const GOAL_FIGURES: Readonly<Record<Goal['figure'], string>> = {
  throughput: 'throughput @64',
  cpuPerRequest: 'CPU per request/reply @64',
}

/**
 * The goals' ratios with the goal beside each: `goal 2: ExoRelay over NATS / Moleculer over
 * NATS, throughput @64 0.85 (rounds …); goal >= 1.0: not met`.
 */
export function goalLines(report: BenchReport): string[] {
  return report.goals.map((goal) => {
    const bounds = [
      ...(goal.atLeast === undefined ? [] : [`>= ${decimal(goal.atLeast, 1)}`]),
      ...(goal.atMost === undefined ? [] : [`<= ${decimal(goal.atMost, 1)}`]),
      ...(goal.aim === undefined ? [] : [goal.aim]),
    ].join(', ')
    const verdict = goal.met === undefined ? 'n/a' : goal.met ? 'met' : 'not met'
    return (
      `${goal.name}: ${titleOf(report, goal.of)} / ${titleOf(report, goal.to)}, ` +
      `${GOAL_FIGURES[goal.figure]} ${ratioText(goal.ratio)}; goal ${bounds}: ${verdict}`
    )
  })
}

/** What the run measured with: the libraries' defaults or `--no-stacks`. */
export function stackCaptureText(stackCapture: boolean): string {
  return stackCapture
    ? "default options: ExoRelay's and nats.js's requesters capture the caller's stack per request, as they do by default (--no-stacks turns that off)"
    : '--no-stacks: no requester captures a stack per request (ExoRelay stackTraces: false, nats.js noAsyncTraces: true)'
}

/** What the core micro-benchmark found, set beside one HTTP hop of the floor. */
export function coreLines(report: BenchReport): string[] {
  const core = report.core
  if (core === undefined) return []
  const lines = [
    `core micro (no I/O, ${report.settings.coreIterations.toLocaleString('en-US')} sequential request/replies per round): ` +
      `${integer(core.nsPerRequestReply)} ns per request/reply (dispatch + correlation + validation), ` +
      `${integer(core.nsPerRequestReplyWithJson)} ns with the JSON codec of the wire, ` +
      `${integer(core.nsPerRequestReplyWithoutStacks)} ns without the caller-stack capture (stackTraces: false); rounds ` +
      core.rounds
        .map(
          (round) =>
            `${integer(round.nsPerRequestReply)}/${integer(round.nsPerRequestReplyWithJson)}/${integer(round.nsPerRequestReplyWithoutStacks)}`,
        )
        .join(', '),
  ]
  const floor = report.summaries.find((summary) => summary.system === 'floor')
  if (floor?.latencyMedianUs !== undefined && floor.cpuPerRequestUs !== undefined) {
    // A request/reply is four HTTP requests: send, deliver, send the reply, deliver it.
    lines.push(
      `one HTTP hop of the floor (a request/reply is 4): ${integer(floor.latencyMedianUs / 4)} µs of latency @1, ` +
        `${integer(floor.cpuPerRequestUs / 4)} µs of CPU @64; core's share of the floor's CPU per request/reply: ` +
        `${decimal(((core.nsPerRequestReplyWithoutStacks ?? 0) / 1000 / floor.cpuPerRequestUs) * 100, 1)} % without the caller-stack capture (stackTraces: false), ` +
        `${decimal(((core.nsPerRequestReply ?? 0) / 1000 / floor.cpuPerRequestUs) * 100, 1)} % with it (the default)`,
    )
  }
  return lines
}

/**
 * The registration flood (issue 14): first the headline, ExoRelay's throughput @64 without
 * and with the flood and their ratio, then what the flood achieved in each measured phase,
 * so that the figure can be checked against the PUTs the bus really took.
 */
export function floodLines(report: BenchReport): string[] {
  const flooded = report.rounds.filter((round) => round.system === 'exorelay-flood')
  if (flooded.length === 0) return []
  const lines: string[] = []
  const without = report.summaries.find((summary) => summary.system === 'exorelay')
  const withFlood = report.summaries.find((summary) => summary.system === 'exorelay-flood')
  const comparison = report.comparisons.find(
    (candidate) => candidate.of === 'exorelay-flood' && candidate.to === 'exorelay',
  )
  const putsPerSecond = medianOrUndefined(
    flooded.map((round) => {
      const counts = phase(round, CONCURRENT)?.registrations
      return counts === undefined ? undefined : completedPerSecond(counts)
    }),
  )
  const failed = flooded.reduce(
    (sum, round) =>
      sum + round.phases.reduce((total, result) => total + (result.registrations?.failed ?? 0), 0),
    0,
  )
  lines.push(
    `${titleOf(report, 'exorelay-flood')}: ${integer(withFlood?.throughput)} req/s @64 against ` +
      `${integer(without?.throughput)} without (${titleOf(report, 'exorelay')} row), ratio ` +
      `${decimal(comparison?.throughput.ofMedians, 2)} (rounds ${comparison?.throughput.perRound.map((value) => decimal(value, 2)).join(', ') || 'n/a'}); ` +
      `${integer(putsPerSecond)} PUT/s completed @64 (median), ${integer(failed)} failed in all phases`,
  )
  for (const round of flooded) {
    for (const result of round.phases) {
      if (result.registrations === undefined) continue
      lines.push(
        `${titleOf(report, round.system)} round ${round.round} @${result.inFlight}: ${registrationFigures(result.registrations)}`,
      )
    }
  }
  return lines
}

/**
 * What the flood did in one phase, in one line: `1,000 PUT/s due, 998 completed/s (each
 * second 1,000, 996), 0 failed, 2 skipped (previous PUT still under way); PUT p50 0.6 ms, …`.
 */
export function registrationFigures(counts: RegistrationCounts): string {
  const seconds = counts.elapsedMs / 1000
  const perSecond = counts.perSecond.map((value) => integer(value)).join(', ')
  const latency = counts.latencyMs
  return (
    `${integer(counts.due / seconds)} PUT/s due, ${integer(completedPerSecond(counts))} completed/s` +
    (perSecond === '' ? '' : ` (each second ${perSecond})`) +
    `, ${integer(counts.failed)} failed, ${integer(counts.skipped)} skipped (previous PUT still under way)` +
    (latency === undefined
      ? ''
      : `; PUT p50 ${decimal(latency.median, 1)} ms, p99 ${decimal(latency.p99, 1)} ms, max ${decimal(latency.max, 1)} ms`) +
    (counts.firstError === undefined ? '' : `; first failure: ${counts.firstError}`)
  )
}

function completedPerSecond(counts: RegistrationCounts): number | undefined {
  return counts.elapsedMs <= 0 ? undefined : counts.completed / (counts.elapsedMs / 1000)
}

/** The whole report as console text. */
export function renderText(report: BenchReport): string {
  const rows = tableRows(report)
  const widths = HEADERS.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => row[column]!.length)),
  )
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) =>
        column >= FIRST_NUMBER_COLUMN
          ? cell.padStart(widths[column]!)
          : cell.padEnd(widths[column]!),
      )
      .join('  ')
      .trimEnd()
  return [
    '',
    ...(rows.length === 0 ? [] : [line(HEADERS), ...rows.map(line), '']),
    ...ratioLines(report),
    ...goalLines(report),
    ...floodLines(report),
    ...coreLines(report),
    ...notes(report),
    '',
  ].join('\n')
}

/** The whole report as Markdown, for `latest.md`. */
export function renderMarkdown(report: BenchReport): string {
  const { machine, settings } = report
  const rows = tableRows(report)
  const alignments = HEADERS.map(
    (_, column): Alignment => (column >= FIRST_NUMBER_COLUMN ? 'right' : 'left'),
  )
  return [
    '# ExoRelay benchmark',
    '',
    `- Date: ${machine.date}`,
    `- Command: \`${machine.command}\``,
    `- Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}`,
    `- Node.js ${machine.node}${machine.natsServer === undefined ? '' : `, ${machine.natsServer}`}`,
    `- Load average (1, 5, 15 min) at start: ${machine.loadAverage.start.join(', ')}; at end: ${machine.loadAverage.end?.join(', ') ?? 'n/a'}`,
    `- ${settings.rounds} round(s), systems interleaved (each round starting one system later), fresh processes per round; ${settings.warmupRequests} ` +
      `warm-up request/replies at 64 in flight after each start; per phase ${seconds(settings.warmupMs)} s warm-up, ` +
      `${seconds(settings.durationMs)} s measured; ${settings.payloadBytes}-byte JSON payload; loopback`,
    `- Options: ${stackCaptureText(settings.stackCapture)}`,
    '',
    '## Systems',
    '',
    ...report.systems.map(
      (system) =>
        `- **${system.title}**: ${system.description}${system.skipped === undefined ? '' : ` — skipped: ${system.skipped}`}`,
    ),
    '',
    '## Results',
    '',
    '`@1`: one request in flight (latency); `@64`: 64 in flight (throughput). CPU is the sum ' +
      'over all processes of the system, divided by the completed request/replies. ' +
      'bus/resp/req: bus (nats-server for NATS), responding service, requesting service (which ' +
      'also runs the load generator); `-`: the system has no such process (Moleculer over TCP ' +
      'has no bus).',
    '',
    ...(rows.length === 0
      ? ['No system was measured in this run.']
      : markdownTable(HEADERS, rows, alignments)),
    '',
    '## Ratios',
    '',
    ...ratioLines(report).map((line) => `- ${line}`),
    ...(goalLines(report).length === 0
      ? []
      : ['', '## Goals', '', ...goalLines(report).map((line) => `- ${line}`)]),
    ...(floodLines(report).length === 0
      ? []
      : ['', '## Registration flood', '', ...floodLines(report).map((line) => `- ${line}`)]),
    ...(report.core === undefined
      ? []
      : ['', '## Core alone', '', ...coreLines(report).map((line) => `- ${line}`)]),
    ...(notes(report).length === 0
      ? []
      : ['', '## Notes', '', ...notes(report).map((line) => `- ${line}`)]),
    '',
  ].join('\n')
}

/** Skipped systems and failed requests: anything that makes a row less than it seems. */
export function notes(report: BenchReport): string[] {
  const lines: string[] = []
  const { loadAverage, cores } = report.machine
  const busiest = Math.max(loadAverage.start[0] ?? 0, loadAverage.end?.[0] ?? 0)
  if (busiest > cores / 4) {
    lines.push(
      `The 1-minute load average reached ${busiest} on ${cores} cores: other processes competed ` +
        'for the CPU during the run, so absolute figures are low and noisy; the ratios within a ' +
        'round (systems run seconds apart) are the figures to trust.',
    )
  }
  for (const system of report.systems) {
    if (system.skipped !== undefined) lines.push(`${system.title}: skipped: ${system.skipped}`)
  }
  for (const round of report.rounds) {
    for (const result of round.phases) {
      if (result.errors > 0) {
        lines.push(
          `${titleOf(report, round.system)} round ${round.round} @${result.inFlight}: ${result.errors} failed request(s), first: ${result.firstError}`,
        )
      }
      if ((result.registrations?.failed ?? 0) > 0) {
        lines.push(
          `${titleOf(report, round.system)} round ${round.round} @${result.inFlight}: ${result.registrations!.failed} re-registration(s) of the flood failed, first: ${result.registrations!.firstError}`,
        )
      }
    }
  }
  return lines
}

/** Writes `latest.json` and `latest.md` into `directory`; resolves with their paths. */
export async function writeResults(report: BenchReport, directory: string): Promise<string[]> {
  await mkdir(directory, { recursive: true })
  const json = join(directory, 'latest.json')
  const markdown = join(directory, 'latest.md')
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`)
  await writeFile(markdown, renderMarkdown(report))
  return [json, markdown]
}

function titleOf(report: BenchReport, id: SystemId): string {
  return report.systems.find((system) => system.id === id)?.title ?? id
}

function perLabel(
  values: Readonly<Record<string, number>>,
  format: (value: number) => string,
): string {
  if (Object.keys(values).length === 0) return ''
  // Every column keeps its place: a process the system does not have (the bus of Moleculer
  // over TCP) shows as `-`.
  const extra = Object.keys(values).filter((label) => !LABELS.includes(label))
  return [...LABELS, ...extra]
    .map((label) => (values[label] === undefined ? '-' : format(values[label]!)))
    .join('/')
}

function mibOf(bytes: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(bytes).map(([label, value]) => [label, value / 2 ** 20]))
}

function integer(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value)
    ? 'n/a'
    : Math.round(value).toLocaleString('en-US')
}

function decimal(value: number | undefined, digits: number): string {
  return value === undefined || !Number.isFinite(value) ? 'n/a' : value.toFixed(digits)
}

function seconds(milliseconds: number): string {
  return String(milliseconds / 1000)
}
