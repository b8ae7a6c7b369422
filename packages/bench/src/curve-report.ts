// The curves' results: medians across rounds, a table and a chart per curve, curves.md and
// curves.json.
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type ChartSeries, lineChart } from './chart.js'
import type { Curve, CurveId } from './curve-definitions.js'
import type { CurvePhase } from './curve-measure.js'
import { START_WARMUP_CAP } from './curve-options.js'
import type { CurveSystemId } from './curve-systems.js'
import type { MachineInfo } from './machine.js'
import { markdownTable } from './markdown.js'
import { loadNote } from './report.js'
import { median } from './stats.js'

/** One round of one point of a curve: the phases measured on it. */
export interface PointRound {
  readonly curve: CurveId
  readonly series: string
  readonly system: CurveSystemId
  readonly x: number
  readonly round: number
  readonly phases: readonly CurvePhase[]
}

/** A curve's table: one row per point (x ascending, series in the curve's order), medians. */
export interface CurveTable {
  readonly curve: CurveId
  readonly headers: readonly string[]
  readonly rows: readonly {
    readonly x: number
    readonly series: string
    readonly values: readonly (number | undefined)[]
  }[]
}

/** How the run was made, for curves.md and curves.json. */
export interface CurveSettings {
  readonly rounds: number
  readonly warmupRequests: number
  readonly warmupMs: number
  readonly durationMs: number
}

export interface CurvesReport {
  readonly machine: MachineInfo
  readonly settings: CurveSettings
  readonly curves: readonly {
    readonly curve: Curve
    readonly table: CurveTable
    readonly rounds: readonly PointRound[]
  }[]
  /** Systems that could not run here, with why. */
  readonly skipped: readonly string[]
}

/** The median across rounds of each metric of each point of `curve` measured in `rounds`. */
export function curveTable(curve: Curve, rounds: readonly PointRound[]): CurveTable {
  const seriesOrder = [...new Set(curve.starts.map((start) => start.series))]
  const points = new Map<string, { x: number; series: string; rounds: PointRound[] }>()
  for (const round of rounds) {
    const key = `${round.series}\u0000${round.x}`
    const point = points.get(key) ?? { x: round.x, series: round.series, rounds: [] }
    point.rounds.push(round)
    points.set(key, point)
  }
  const rows = [...points.values()]
    .sort((a, b) => a.x - b.x || seriesOrder.indexOf(a.series) - seriesOrder.indexOf(b.series))
    .map((point) => ({
      x: point.x,
      series: point.series,
      values: curve.metrics.map((metric) => {
        const values = point.rounds
          .map((round) => metric.value(round.phases, round.x))
          .filter((value): value is number => value !== undefined && Number.isFinite(value))
        return values.length === 0 ? undefined : median(values)
      }),
    }))
  return {
    curve: curve.id,
    headers: [curve.xHeader, 'system', ...curve.metrics.map((metric) => metric.header)],
    rows,
  }
}

/** The table's cells: x as the curve writes it, figures rounded, `n/a` where nothing was measured. */
export function tableCells(curve: Curve, table: CurveTable): string[][] {
  return table.rows.map((row) => [
    curve.formatX(row.x),
    row.series,
    ...row.values.map(formatFigure),
  ])
}

/** Whole numbers with separators from 10 up, one decimal below. */
export function formatFigure(value: number | undefined): string {
  if (value === undefined) return 'n/a'
  return value >= 10
    ? Math.round(value).toLocaleString('en-US')
    : value.toLocaleString('en-US', { maximumFractionDigits: 1 })
}

/** The table as Markdown, padded as Biome formats it. */
export function renderCurveTable(curve: Curve, table: CurveTable): string[] {
  return markdownTable(table.headers, tableCells(curve, table), [
    'right',
    'left',
    ...curve.metrics.map(() => 'right' as const),
  ])
}

/**
 * The curve's chart as SVG: its chart metric against x, one line per series; `undefined`
 * when no point has a figure. A series measured only at x = 0 (a baseline, such as the routes
 * curve's table without extra services) cannot sit on a log axis: it is drawn flat across the others.
 */
export function curveChart(curve: Curve, table: CurveTable): string | undefined {
  const { chart } = curve
  const bySeries = new Map<string, [number, number][]>()
  for (const row of table.rows) {
    const value = row.values[chart.metric]
    if (value === undefined) continue
    const points = bySeries.get(row.series) ?? []
    points.push([row.x, value])
    bySeries.set(row.series, points)
  }
  const placeable = (x: number) => chart.xScale === 'linear' || x > 0
  const xs = [...bySeries.values()]
    .flat()
    .map(([x]) => x)
    .filter(placeable)
  if (xs.length === 0) return undefined
  const low = Math.min(...xs)
  const high = Math.max(...xs)
  const series: ChartSeries[] = [...bySeries].map(([label, points]) => {
    const placed = points.filter(([x]) => placeable(x))
    if (placed.length > 0 || low === high) return { label, points: placed }
    const value = points[0]![1]
    return {
      label,
      points: [
        [low, value],
        [high, value],
      ],
    }
  })
  return lineChart({
    title: curve.title,
    xLabel: chart.xLabel,
    yLabel: chart.yLabel,
    xScale: chart.xScale,
    yScale: chart.yScale,
    series: series.filter((line) => line.points.length > 0),
  })
}

/** What makes a figure less than it seems: failed requests, and systems that did not run. */
export function curveNotes(report: Pick<CurvesReport, 'machine' | 'curves' | 'skipped'>): string[] {
  const load = loadNote(report.machine)
  const lines = [...(load === undefined ? [] : [load]), ...report.skipped]
  for (const { curve, rounds } of report.curves) {
    for (const round of rounds) {
      for (const phase of round.phases) {
        if (phase.errors === 0) continue
        lines.push(
          `${curve.id} ${curve.formatX(round.x)} ${round.series} round ${round.round} @${phase.inFlight}: ` +
            `${phase.errors} failed request(s), first: ${phase.firstError}`,
        )
      }
    }
  }
  return lines
}

/** The whole run as Markdown, for curves.md: each curve's description, table and chart. */
export function renderCurvesMarkdown(report: CurvesReport): string {
  const { machine, settings } = report
  const notes = curveNotes(report)
  return [
    '# ExoRelay curves',
    '',
    `- Date: ${machine.date}`,
    `- Command: \`${machine.command}\``,
    `- Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}`,
    `- Node.js ${machine.node}${machine.natsServer === undefined ? '' : `, ${machine.natsServer}`}`,
    `- Load average (1, 5, 15 min) at start: ${machine.loadAverage.start.join(', ')}; at end: ${machine.loadAverage.end?.join(', ') ?? 'n/a'}`,
    `- ${settings.rounds} round(s); fresh processes for every point (the in-flight curve: for every system), ` +
      `${settings.warmupRequests} warm-up request/replies at 64 in flight after each start (at most ${START_WARMUP_CAP / 1000} s); per phase ${settings.warmupMs / 1000} s warm-up at its own in-flight level, ${settings.durationMs / 1000} s measured; ` +
      'CPU is the sum over all processes of the system divided by the completed request/replies; medians across rounds',
    '',
    ...report.curves.flatMap(({ curve, table }) => [
      `## ${curve.title}`,
      '',
      curve.description,
      '',
      ...(table.rows.length === 0
        ? ['Nothing was measured.']
        : [...renderCurveTable(curve, table), '', `![${curve.title}](${curve.id}.svg)`]),
      '',
    ]),
    ...(notes.length === 0 ? [] : ['## Notes', '', ...notes.map((line) => `- ${line}`), '']),
  ].join('\n')
}

/** Writes curves.md, curves.json and one `<curve>.svg` per curve with figures; resolves with the paths. */
export async function writeCurves(report: CurvesReport, directory: string): Promise<string[]> {
  await mkdir(directory, { recursive: true })
  const written: string[] = []
  const write = async (name: string, text: string) => {
    const file = join(directory, name)
    await writeFile(file, text)
    written.push(file)
  }
  await write('curves.md', renderCurvesMarkdown(report))
  const json = {
    machine: report.machine,
    settings: report.settings,
    skipped: report.skipped,
    curves: report.curves.map(({ curve, table, rounds }) => ({
      id: curve.id,
      title: curve.title,
      description: curve.description,
      table,
      rounds,
    })),
  }
  await write('curves.json', `${JSON.stringify(json, null, 2)}\n`)
  for (const { curve, table } of report.curves) {
    const svg = curveChart(curve, table)
    if (svg !== undefined) await write(`${curve.id}.svg`, svg)
  }
  return written
}
