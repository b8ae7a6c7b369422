import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { lineChart } from './chart.js'
import type { CoreMicroResult, ValidationResult } from './core-micro.js'
import type { RegistrationCounts } from './flood.js'
import type { MachineInfo } from './machine.js'
import { type Alignment, markdownTable } from './markdown.js'
import type { ValidatorName } from './payload-contract.js'
import {
  CONCURRENT,
  type ColdStart,
  LIGHT,
  type PhaseResult,
  SINGLE,
  type SystemRound,
} from './run-system.js'
import type { SystemId } from './scenario.js'
import { median, ratio } from './stats.js'

/** The run's settings, as they go into the report. */
export interface ReportSettings {
  readonly rounds: number
  /** Request/replies of the cold-start phase (0: none ran). */
  readonly coldRequests: number
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
  /** Median latency with 8 in flight, µs. */
  readonly lightLatencyMedianUs: number | undefined
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
  readonly lightMedianLatency: RatioFigure
  readonly cpuPerRequest: RatioFigure
}

/** One window of the cold-start phase, for one system: medians across rounds, µs. */
export interface ColdWindowSummary {
  /** Request/replies completed before this window (0 for the first). */
  readonly after: number
  readonly count: number
  /** The median across rounds of the window's p50. */
  readonly median: number
}

/** One system's cold start: the median across rounds of each window's p50. */
export interface ColdStartSummary {
  readonly system: SystemId
  /** The median across rounds of the very first request/reply's latency, µs. */
  readonly firstUs: number | undefined
  readonly windows: readonly ColdWindowSummary[]
}

export interface CoreSummary {
  readonly rounds: readonly CoreMicroResult[]
  readonly nsPerRequestReply: number | undefined
  readonly nsPerRequestReplyWithJson: number | undefined
  readonly nsPerRequestReplyWithoutStacks: number | undefined
  readonly validation: readonly ValidationSummary[]
}

/** One contract variant of the core micro-benchmark, across rounds. */
export interface ValidationSummary {
  readonly validator: ValidatorName
  readonly validateOutgoing: boolean
  /** Validations per request/reply: 2, or 4 with `validateOutgoing`. */
  readonly validations: number
  /** The median across rounds, with the contract. */
  readonly nsPerRequestReply: number
  /** The median across rounds, without a contract, each measured just before. */
  readonly nsPerRequestReplyWithoutContract: number
  /** Each round's cost of one validation: (with − without) / validations. */
  readonly nsPerValidationByRound: readonly number[]
  /** Their median: what one message's validation costs. */
  readonly nsPerValidation: number
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
  /** Per system with a cold-start phase; each round's own windows are in `rounds`. */
  readonly coldStart: readonly ColdStartSummary[]
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
  lightLatencyMedianUs: (round: SystemRound) => phase(round, LIGHT)?.latencyUs?.median,
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
    coldStart: summaries
      .map((summary) => summarizeCold(summary.system, input.rounds))
      .filter((summary) => summary !== undefined),
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
    lightLatencyMedianUs: medianOf(figures.lightLatencyMedianUs),
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
    lightMedianLatency: figure(figures.lightLatencyMedianUs),
    cpuPerRequest: figure(figures.cpuPerRequestUs),
  }
}

/** The median across rounds of each window's p50, window by window; `undefined` without one. */
function summarizeCold(
  system: SystemId,
  all: readonly SystemRound[],
): ColdStartSummary | undefined {
  const colds = all
    .filter((round) => round.system === system)
    .map((round) => round.cold)
    .filter((cold): cold is ColdStart => cold !== undefined && cold.windows.length > 0)
  if (colds.length === 0) return undefined
  // Rounds cut short by the phase's time cap have fewer windows: each window is the median of
  // the rounds that reached it.
  const longest = colds.reduce((a, b) => (b.windows.length > a.windows.length ? b : a))
  return {
    system,
    firstUs: medianOrUndefined(colds.map((cold) => cold.firstUs)),
    windows: longest.windows.map((window, index) => ({
      after: window.after,
      count: window.count,
      median: medianOrUndefined(colds.map((cold) => cold.windows[index]?.median))!,
    })),
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
    validation: summarizeValidation(rounds),
  }
}

// Each variant the first round measured, with the same variant of every round.
function summarizeValidation(rounds: readonly CoreMicroResult[]): ValidationSummary[] {
  return (rounds[0]?.validation ?? []).map(({ validator, validateOutgoing, validations }) => {
    const measured = rounds
      .map((round) =>
        round.validation.find(
          (candidate) =>
            candidate.validator === validator && candidate.validateOutgoing === validateOutgoing,
        ),
      )
      .filter((result): result is ValidationResult => result !== undefined)
    const byRound = measured.map(
      (result) =>
        (result.nsPerRequestReply - result.nsPerRequestReplyWithoutContract) / result.validations,
    )
    return {
      validator,
      validateOutgoing,
      validations,
      nsPerRequestReply: median(measured.map((result) => result.nsPerRequestReply)),
      nsPerRequestReplyWithoutContract: median(
        measured.map((result) => result.nsPerRequestReplyWithoutContract),
      ),
      nsPerValidationByRound: byRound,
      nsPerValidation: median(byRound),
    }
  })
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
  'p50 µs @8',
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
        integer(phase(round, LIGHT)?.latencyUs?.median),
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
      integer(summary.lightLatencyMedianUs),
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
      ['median latency @8', comparison.lightMedianLatency],
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
    ? "default options: nats.js's requester captures the caller's stack per request, ExoRelay's takes a failed send's from V8's async stack traces (stackTraces: 'await'), as they do by default (--no-stacks turns both off)"
    : '--no-stacks: no requester captures a stack per request (ExoRelay stackTraces: false, nats.js noAsyncTraces: true)'
}

/** Goal 1 of issue 19: ExoRelay's p50 at most this many times the floor's, @1 and @8. */
export const GOAL_1_LATENCY = 1.2

/**
 * Goal 1, fast from the first request: ExoRelay's p50 over the floor's @1 and @8, both
 * measured after the same short warm-up and no burst, with the goal beside them.
 */
export function goal1Lines(report: BenchReport): string[] {
  const comparison = report.comparisons.find(
    (candidate) => candidate.of === 'exorelay' && candidate.to === 'floor',
  )
  if (comparison === undefined) return []
  const figures = [comparison.medianLatency, comparison.lightMedianLatency]
  const met = figures.every(
    (figure) => figure.ofMedians !== undefined && figure.ofMedians <= GOAL_1_LATENCY,
  )
  return [
    `goal 1, fast from the first request: ${titleOf(report, 'exorelay')} / ${titleOf(report, 'floor')} ` +
      `p50 @1 ${ratioText(comparison.medianLatency)}, p50 @8 ${ratioText(comparison.lightMedianLatency)}; ` +
      `goal: at most ${GOAL_1_LATENCY.toFixed(1)} each: ${met ? 'met' : 'not met'}`,
  ]
}

/**
 * The cold-start table: a column per system, a row per window (and one for the very first
 * request/reply), each cell the median across rounds of the window's p50 in µs.
 */
export function coldStartTable(report: BenchReport): { headers: string[]; rows: string[][] } {
  const systems = report.coldStart
  const longest = systems.reduce<readonly ColdWindowSummary[]>(
    (windows, system) => (system.windows.length > windows.length ? system.windows : windows),
    [],
  )
  return {
    headers: ['request/replies', ...systems.map((system) => titleOf(report, system.system))],
    rows: [
      ['first', ...systems.map((system) => integer(system.firstUs))],
      ...longest.map((window, index) => [
        `${integer(window.after + 1)}–${integer(window.after + window.count)}`,
        ...systems.map((system) => integer(system.windows[index]?.median)),
      ]),
    ],
  }
}

/**
 * The cold start as an SVG line chart: a line per system, the p50 of each window at the
 * request/replies completed by its end. `undefined` when no system had a cold-start phase.
 */
export function coldStartChart(report: BenchReport): string | undefined {
  if (report.coldStart.length === 0) return undefined
  return lineChart({
    title: `Cold start: p50 @1 of each ${integer(report.coldStart[0]!.windows[0]?.count)} request/replies after start`,
    xLabel: 'request/replies since start',
    yLabel: 'p50 µs',
    yScale: 'log',
    series: report.coldStart.map((system) => ({
      label: titleOf(report, system.system),
      points: system.windows.map((window) => [window.after + window.count, window.median] as const),
    })),
  })
}

/** A progress line for one cold-start phase: the first request/reply, the first and last window. */
export function coldProgressLine(title: string, round: number, cold: ColdStart): string {
  const first = cold.windows[0]
  const last = cold.windows.at(-1)
  const figures =
    first === undefined || last === undefined
      ? 'no request completed'
      : `first ${integer(cold.firstUs)} µs, p50 ${integer(first.median)} µs in the first ` +
        `${integer(first.count)}, ${integer(last.median)} µs in the last ${integer(last.count)}, ` +
        `CPU ${integer(cold.cpuPerRequestUs)} µs/req`
  const errors = cold.errors === 0 ? '' : `, ${cold.errors} failed: ${cold.firstError}`
  return `round ${round} ${title} cold start (${integer(cold.completed)} @1): ${figures}${errors}`
}

/** What the core micro-benchmark found, set beside one HTTP hop of the floor. */
export function coreLines(report: BenchReport): string[] {
  const core = report.core
  if (core === undefined) return []
  const lines = [
    `core micro (no I/O, ${report.settings.coreIterations.toLocaleString('en-US')} sequential request/replies per round): ` +
      `${integer(core.nsPerRequestReply)} ns per request/reply (dispatch + correlation + validation, the default stackTraces: 'await'), ` +
      `${integer(core.nsPerRequestReplyWithJson)} ns with the JSON codec of the wire, ` +
      `${integer(core.nsPerRequestReplyWithoutStacks)} ns with stackTraces: false; rounds ` +
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
        `${decimal(((core.nsPerRequestReplyWithoutStacks ?? 0) / 1000 / floor.cpuPerRequestUs) * 100, 1)} % with stackTraces: false, ` +
        `${decimal(((core.nsPerRequestReply ?? 0) / 1000 / floor.cpuPerRequestUs) * 100, 1)} % with the default`,
    )
  }
  return lines
}

/** One round of the core micro-benchmark, as progress: its figures, then each contract's. */
export function coreProgressLines(round: number, result: CoreMicroResult): string[] {
  const ns = (value: number) => String(Math.round(value))
  const lines = [
    `round ${round} core: ${ns(result.nsPerRequestReply)} ns per request/reply, ` +
      `${ns(result.nsPerRequestReplyWithJson)} ns with JSON, ` +
      `${ns(result.nsPerRequestReplyWithoutStacks)} ns with stackTraces: false`,
  ]
  if (result.validation.length > 0) {
    lines.push(
      `round ${round} core with a contract: ` +
        result.validation
          .map(
            (variant) =>
              `${variantTitle(variant)} ${ns(variant.nsPerRequestReply)} ns ` +
              `(without ${ns(variant.nsPerRequestReplyWithoutContract)})`,
          )
          .join(', '),
    )
  }
  return lines
}

/** What a validation figure is: the text above the table, in the console and the Markdown. */
export const VALIDATION_INTRO =
  'Validation: both relays given a contract (zod 4 or valibot 1; the shapes of the payload ' +
  'and the reply), each variant right after the same relays without one, each in a fresh ' +
  'process. A validation is one message checked against its schema: 2 per request/reply ' +
  'without validateOutgoing (the receiver checks the payload, the requester the reply: ' +
  'production), 4 with it (each side also checks what it sends: the default outside ' +
  'production). ns per validation = (with contract − without) / validations, the median of ' +
  'the rounds.'

/** The contract variants of the core micro-benchmark as a table; no rows when none ran. */
export function validationTable(report: BenchReport): { headers: string[]; rows: string[][] } {
  return {
    headers: [
      'validator',
      'validateOutgoing',
      'validations per request/reply',
      'ns per request/reply',
      'without contract',
      'ns per validation',
      'by round',
    ],
    rows: (report.core?.validation ?? []).map((variant) => [
      variant.validator,
      String(variant.validateOutgoing),
      String(variant.validations),
      integer(variant.nsPerRequestReply),
      integer(variant.nsPerRequestReplyWithoutContract),
      integer(variant.nsPerValidation),
      variant.nsPerValidationByRound.map(integer).join('/'),
    ]),
  }
}

function variantTitle(variant: { validator: string; validateOutgoing: boolean }): string {
  return variant.validateOutgoing ? `${variant.validator} + validateOutgoing` : variant.validator
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

/** The systems each of issue 19's goals compares: without both, the run cannot measure it. */
const GOAL_SYSTEMS: readonly { readonly name: string; readonly systems: readonly SystemId[] }[] = [
  { name: 'goal 1', systems: ['exorelay', 'floor'] },
  // Goals 2 and 3 as GOALS lists them, each name once.
  ...GOALS.filter(
    (goal, index) => GOALS.findIndex((other) => other.name === goal.name) === index,
  ).map((goal) => ({ name: goal.name, systems: [goal.of, goal.to] })),
]

/**
 * Issue 19's goals in order: goal 1 (latency against the floor), then goals 2 and 3; once one
 * is measured, each of the others says which systems it needs.
 */
function allGoalLines(report: BenchReport): string[] {
  const lines = [...goal1Lines(report), ...goalLines(report)]
  if (lines.length === 0) return []
  const measured = new Set(report.summaries.map((summary) => summary.system))
  for (const goal of GOAL_SYSTEMS) {
    if (goal.systems.every((system) => measured.has(system))) continue
    lines.push(
      `${goal.name}: not measured in this run: it compares ${goal.systems.map((system) => titleOf(report, system)).join(' and ')} (--only ${goal.systems.join(',')})`,
    )
  }
  return lines
}

/** The whole report as console text. */
export function renderText(report: BenchReport): string {
  const rows = tableRows(report)
  const cold = coldStartTable(report)
  return [
    '',
    ...(rows.length === 0 ? [] : [...consoleTable(HEADERS, rows, FIRST_NUMBER_COLUMN), '']),
    ...ratioLines(report),
    ...allGoalLines(report),
    ...(report.coldStart.length === 0
      ? []
      : [
          '',
          `cold start: p50 µs @1 per window (median across rounds), from the first request/reply after start`,
          ...consoleTable(cold.headers, cold.rows, 1),
        ]),
    ...floodLines(report),
    ...coreLines(report),
    ...validationText(report),
    ...notes(report),
    '',
  ].join('\n')
}

function validationText(report: BenchReport): string[] {
  const { headers, rows } = validationTable(report)
  return rows.length === 0 ? [] : ['', VALIDATION_INTRO, ...consoleTable(headers, rows, 2)]
}

function validationMarkdown(report: BenchReport): string[] {
  const { headers, rows } = validationTable(report)
  if (rows.length === 0) return []
  const alignments = headers.map((_, column): Alignment => (column >= 2 ? 'right' : 'left'))
  return ['', VALIDATION_INTRO, '', ...markdownTable(headers, rows, alignments)]
}

/** A table for the console: columns padded, from `firstNumberColumn` on right-aligned. */
function consoleTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  firstNumberColumn: number,
): string[] {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => row[column]!.length)),
  )
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) =>
        column >= firstNumberColumn ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!),
      )
      .join('  ')
      .trimEnd()
  return [line(headers), ...rows.map(line)]
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
    `- ${settings.rounds} round(s), systems interleaved (each round starting one system later), fresh processes per round; ` +
      `per round ${settings.coldRequests} cold-start request/replies at 1 in flight on the fresh processes, then per phase ` +
      `${seconds(settings.warmupMs)} s warm-up at its own level and ${seconds(settings.durationMs)} s measured: @1, @8, ` +
      `then ${settings.warmupRequests} warm-up request/replies at 64 in flight (the burst) and @64; ` +
      `${settings.payloadBytes}-byte JSON payload; loopback`,
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
    '`@1`, `@8`: one and 8 requests in flight (latency), after only their own warm-up, before ' +
      'any burst of load; `@64`: 64 in flight (throughput), after the burst. CPU is the sum ' +
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
    ...(allGoalLines(report).length === 0
      ? []
      : ['', '## Goals', '', ...allGoalLines(report).map((line) => `- ${line}`)]),
    ...coldStartMarkdown(report),
    ...(floodLines(report).length === 0
      ? []
      : ['', '## Registration flood', '', ...floodLines(report).map((line) => `- ${line}`)]),
    ...(report.core === undefined
      ? []
      : [
          '',
          '## Core alone',
          '',
          ...coreLines(report).map((line) => `- ${line}`),
          ...validationMarkdown(report),
        ]),
    ...(notes(report).length === 0
      ? []
      : ['', '## Notes', '', ...notes(report).map((line) => `- ${line}`)]),
    '',
  ].join('\n')
}

function coldStartMarkdown(report: BenchReport): string[] {
  if (report.coldStart.length === 0) return []
  const { headers, rows } = coldStartTable(report)
  return [
    '',
    '## Cold start',
    '',
    `The first ${integer(report.settings.coldRequests)} request/replies of each fresh system, at ` +
      '1 in flight with no warm-up before them: what a service sees just after it started. ' +
      "Each cell is the median across rounds of the window's p50 in µs; `first` is the very " +
      'first request/reply.',
    '',
    ...markdownTable(
      headers,
      rows,
      headers.map((_, column): Alignment => (column === 0 ? 'left' : 'right')),
    ),
    '',
    `![Cold start: p50 per window](${COLD_START_CHART})`,
  ]
}

/**
 * The warning for a run that shared the machine: its 1-minute load average, at the start or the
 * end, above a quarter of the cores. `undefined` for a quiet run.
 */
export function loadNote(machine: MachineInfo): string | undefined {
  const { loadAverage, cores } = machine
  const busiest = Math.max(loadAverage.start[0] ?? 0, loadAverage.end?.[0] ?? 0)
  if (busiest <= cores / 4) return undefined
  return (
    `The 1-minute load average reached ${busiest} on ${cores} cores: other processes competed ` +
    'for the CPU during the run, so absolute figures are low and noisy; the ratios within a ' +
    'round (systems run seconds apart) are the figures to trust.'
  )
}

/** Skipped systems and failed requests: anything that makes a row less than it seems. */
export function notes(report: BenchReport): string[] {
  const lines: string[] = []
  const load = loadNote(report.machine)
  if (load !== undefined) lines.push(load)
  for (const system of report.systems) {
    if (system.skipped !== undefined) lines.push(`${system.title}: skipped: ${system.skipped}`)
  }
  for (const round of report.rounds) {
    if ((round.cold?.errors ?? 0) > 0) {
      lines.push(
        `${titleOf(report, round.system)} round ${round.round} cold start: ${round.cold!.errors} failed request(s), first: ${round.cold!.firstError}`,
      )
    }
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

/** The cold-start chart's file name, beside `latest.md`, which links to it. */
export const COLD_START_CHART = 'cold-start.svg'

/**
 * Writes `latest.json`, `latest.md` and, when a cold-start phase ran, `cold-start.svg` into
 * `directory`; resolves with their paths.
 */
export async function writeResults(report: BenchReport, directory: string): Promise<string[]> {
  await mkdir(directory, { recursive: true })
  const json = join(directory, 'latest.json')
  const markdown = join(directory, 'latest.md')
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`)
  await writeFile(markdown, renderMarkdown(report))
  const chart = coldStartChart(report)
  if (chart === undefined) return [json, markdown]
  const svg = join(directory, COLD_START_CHART)
  await writeFile(svg, chart)
  return [json, markdown, svg]
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
