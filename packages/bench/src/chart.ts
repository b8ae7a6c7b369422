// Line charts as self-contained SVG, for the figures docs/performance.md shows beside its
// tables: no scripts, no external fonts or styles, so the file renders the same on GitHub, in
// an editor's preview and in a browser.
import { ErrorCodes, InvalidArgumentError } from '@exorelay/core'

/** One line of a chart: its points in x order, as `[x, y]`. */
export interface ChartSeries {
  readonly label: string
  readonly points: readonly (readonly [x: number, y: number])[]
}

/** What to draw. */
export interface ChartSpec {
  readonly title: string
  readonly xLabel: string
  readonly yLabel: string
  readonly series: readonly ChartSeries[]
  /** `log` for figures spanning orders of magnitude (payload sizes, latencies). Default `linear`. */
  readonly xScale?: 'linear' | 'log' | undefined
  /** Default `linear`. */
  readonly yScale?: 'linear' | 'log' | undefined
  /** Default 720. */
  readonly width?: number | undefined
  /** Default 400. */
  readonly height?: number | undefined
}

// Colour-blind-safe (Okabe and Ito), in the order the series come.
const COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000']
const MARGIN = { top: 36, right: 180, bottom: 48, left: 72 }

/**
 * Draws `spec` as an SVG document: axes with ticks, one line (with a dot per point) per series
 * and a legend on the right. Throws an `InvalidArgumentError` for a log scale given a value of
 * 0 or less, or for a chart with no points at all.
 *
 * @example
 * ```ts
 * const svg = lineChart({
 *   title: 'Cold start',
 *   xLabel: 'request/replies since start',
 *   yLabel: 'p50 µs',
 *   yScale: 'log',
 *   series: [{ label: 'ExoRelay', points: [[500, 2400], [1000, 900]] }],
 * })
 * ```
 */
export function lineChart(spec: ChartSpec): string {
  const width = spec.width ?? 720
  const height = spec.height ?? 400
  const points = spec.series.flatMap((series) => series.points)
  if (points.length === 0) throw invalid(`The chart '${spec.title}' has no points to draw.`)
  const x = axis(
    points.map(([value]) => value),
    spec.xScale ?? 'linear',
    MARGIN.left,
    width - MARGIN.right,
    `${spec.title}: x`,
  )
  const y = axis(
    points.map(([, value]) => value),
    spec.yScale ?? 'linear',
    height - MARGIN.bottom,
    MARGIN.top,
    `${spec.title}: y`,
  )
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(spec.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${MARGIN.left}" y="20" font-size="14" font-weight="bold">${escapeXml(spec.title)}</text>`,
  ]
  for (const tick of x.ticks) {
    const at = round(x.place(tick))
    parts.push(
      `<line x1="${at}" y1="${MARGIN.top}" x2="${at}" y2="${height - MARGIN.bottom}" stroke="#e5e5e5"/>`,
      `<text x="${at}" y="${height - MARGIN.bottom + 16}" text-anchor="middle">${formatTick(tick)}</text>`,
    )
  }
  for (const tick of y.ticks) {
    const at = round(y.place(tick))
    parts.push(
      `<line x1="${MARGIN.left}" y1="${at}" x2="${width - MARGIN.right}" y2="${at}" stroke="#e5e5e5"/>`,
      `<text x="${MARGIN.left - 6}" y="${at + 4}" text-anchor="end">${formatTick(tick)}</text>`,
    )
  }
  parts.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${width - MARGIN.left - MARGIN.right}" height="${height - MARGIN.top - MARGIN.bottom}" fill="none" stroke="#666666"/>`,
    `<text x="${(MARGIN.left + width - MARGIN.right) / 2}" y="${height - 10}" text-anchor="middle">${escapeXml(spec.xLabel)}${x.log ? ' (log scale)' : ''}</text>`,
    `<text transform="translate(16 ${(MARGIN.top + height - MARGIN.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}${y.log ? ' (log scale)' : ''}</text>`,
  )
  spec.series.forEach((series, index) => {
    const colour = COLOURS[index % COLOURS.length]
    const placed = series.points.map(([px, py]) => [round(x.place(px)), round(y.place(py))])
    if (placed.length > 1) {
      parts.push(
        `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${placed.map(([px, py]) => `${px},${py}`).join(' ')}"/>`,
      )
    }
    for (const [px, py] of placed)
      parts.push(`<circle cx="${px}" cy="${py}" r="2.5" fill="${colour}"/>`)
    const legendY = MARGIN.top + 8 + index * 18
    const legendX = width - MARGIN.right + 12
    parts.push(
      `<line x1="${legendX}" y1="${legendY}" x2="${legendX + 20}" y2="${legendY}" stroke="${colour}" stroke-width="2"/>`,
      `<text x="${legendX + 26}" y="${legendY + 4}">${escapeXml(series.label)}</text>`,
    )
  })
  parts.push('</svg>')
  return `${parts.join('\n')}\n`
}

interface Axis {
  readonly log: boolean
  readonly ticks: readonly number[]
  place(value: number): number
}

/** Maps values onto [from, to] pixels (to < from for y, which grows downwards). */
function axis(
  values: readonly number[],
  scale: 'linear' | 'log',
  from: number,
  to: number,
  what: string,
): Axis {
  if (scale === 'log') {
    const bad = values.find((value) => !(value > 0))
    if (bad !== undefined) throw invalid(`${what} is on a log scale but has the value ${bad}.`)
    const low = Math.floor(Math.log10(Math.min(...values)))
    const high = Math.max(low + 1, Math.ceil(Math.log10(Math.max(...values))))
    const ticks: number[] = []
    for (let power = low; power <= high; power++) {
      for (const step of high - low <= 2 ? [1, 2, 5] : [1]) {
        const tick = step * 10 ** power
        if (tick <= 10 ** high) ticks.push(tick)
      }
    }
    return {
      log: true,
      ticks,
      place: (value) => from + ((Math.log10(value) - low) / (high - low)) * (to - from),
    }
  }
  const finite = values.filter(Number.isFinite)
  // A linear axis starts at 0 so that bars of different size compare by eye.
  const low = Math.min(0, ...finite)
  const top = Math.max(...finite)
  const step = niceStep((top - low || 1) / 5)
  const high = Math.ceil(top / step) * step || step
  const ticks: number[] = []
  for (let tick = low; tick <= high + step / 2; tick += step) ticks.push(tick)
  return {
    log: false,
    ticks,
    place: (value) => from + ((value - low) / (high - low)) * (to - from),
  }
}

/** 1, 2 or 5 times a power of ten, at least `raw`. */
function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(raw))
  for (const step of [1, 2, 5, 10]) if (step * power >= raw) return step * power
  return 10 * power
}

function formatTick(value: number): string {
  if (value >= 1_000_000 && value % 1_000_000 === 0) return `${value / 1_000_000}M`
  if (value >= 1000 && value % 1000 === 0) return `${value / 1000}k`
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(3)))
}

function round(value: number): number {
  return Math.round(value * 10) / 10
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError(ErrorCodes.INVALID_OPTION, message)
}
