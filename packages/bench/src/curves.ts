// `npm run curves -w @exorelay/bench -- [--quick] [--rounds N] [--only …] [--save]`: how cost
// grows with the work (issue 19, goal 4). For each curve, each of its systems is started in
// the shape of each point, one at a time, measured, and stopped; the starts are interleaved
// round by round as in `npm run bench`. Prints each curve's table and writes curves.md,
// curves.json and one SVG chart per curve.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { out, runCommand } from './command.js'
import { CURVES, type Curve } from './curve-definitions.js'
import { type CurvePhase, cpuPerRequest, measurePhase, warmUp } from './curve-measure.js'
import {
  CURVES_USAGE,
  type CurveOptions,
  outputFolder,
  parseCurveOptions,
  START_WARMUP_CAP,
} from './curve-options.js'
import {
  type CurvesReport,
  curveNotes,
  curveTable,
  type PointRound,
  renderCurveTable,
  writeCurves,
} from './curve-report.js'
import { CURVE_SYSTEM_TITLES, curveSystemUnavailable, startCurveSystem } from './curve-systems.js'
import { atEnd, machineInfo } from './machine.js'
import { findNatsServer } from './nats-server.js'
import { roundOrder, stopSystem } from './scenario.js'

async function main(options: CurveOptions, argv: readonly string[]): Promise<number> {
  const command = `npm run bench:curves${argv.length === 0 ? '' : ` -- ${argv.join(' ')}`}`
  const folder = outputFolder(options, new Date(), process.pid)
  const machine = machineInfo(command, findNatsServer())
  const curves = CURVES.filter((curve) => options.curves.includes(curve.id))
  const skipped = [
    ...new Set(curves.flatMap((curve) => curve.starts.map((start) => start.system))),
  ].flatMap((system) => {
    const why = curveSystemUnavailable(system)
    return why === undefined ? [] : [`${CURVE_SYSTEM_TITLES[system]}: skipped: ${why}`]
  })
  out(`ExoRelay curves: ${command}`)
  out(
    `${machine.cpu}, ${machine.cores} cores, Node.js ${machine.node}; load average ${machine.loadAverage.start.join(' ')}`,
  )
  out(
    `${options.rounds} round(s) of ${curves.map((curve) => curve.id).join(', ')}; ` +
      `${options.warmupRequests} warm-up request/replies at 64 in flight after each start, then per phase ` +
      `${options.warmupMs / 1000} s warm-up + ${options.durationMs / 1000} s measured`,
  )
  out(`Results go to ${folder}`)
  for (const line of skipped) out(line)

  // nats-server's configuration goes here; removed at the end, as nothing in it is a result.
  const scratch = await mkdtemp(join(tmpdir(), 'exorelay-curves-scratch-'))
  const measured: CurvesReport['curves'][number][] = []
  try {
    for (const curve of curves) {
      const rounds: PointRound[] = []
      for (let round = 1; round <= options.rounds; round++) {
        rounds.push(...(await runCurveRound(curve, round, options, scratch)))
      }
      const table = curveTable(curve, rounds)
      measured.push({ curve, table, rounds })
      out(`\n${curve.title}\n\n${renderCurveTable(curve, table).join('\n')}\n`)
    }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }

  const report: CurvesReport = {
    machine: atEnd(machine),
    settings: {
      rounds: options.rounds,
      warmupRequests: options.warmupRequests,
      warmupMs: options.warmupMs,
      durationMs: options.durationMs,
    },
    curves: measured,
    skipped,
  }
  for (const line of curveNotes(report)) out(line)
  const files = await writeCurves(report, folder)
  out(`Wrote ${files.join(', ')}`)
  return 0
}

/** One round of `curve`: every start of its plan that can run here, one after the other. */
async function runCurveRound(
  curve: Curve,
  round: number,
  options: CurveOptions,
  scratch: string,
): Promise<PointRound[]> {
  const results: PointRound[] = []
  const runnable = curve.starts.filter(
    (start) => curveSystemUnavailable(start.system) === undefined,
  )
  for (const start of roundOrder(runnable, round)) {
    const system = await startCurveSystem(start.system, start.shape, {
      execArgv: () => [],
      scratch,
    })
    try {
      await warmUp(system, options.warmupRequests, START_WARMUP_CAP)
      for (const point of start.points) {
        const phases: CurvePhase[] = []
        for (const inFlight of point.inFlight) {
          const phase = await measurePhase(system, inFlight, options)
          phases.push(phase)
          out(progressLine(curve, start.series, point.x, round, phase))
        }
        results.push({
          curve: curve.id,
          series: start.series,
          system: start.system,
          x: point.x,
          round,
          phases,
        })
      }
    } finally {
      await stopSystem(system)
    }
  }
  return results
}

function progressLine(
  curve: Curve,
  series: string,
  x: number,
  round: number,
  phase: CurvePhase,
): string {
  const figures =
    phase.p50Us === undefined
      ? 'no request completed'
      : `${Math.round(phase.throughput).toLocaleString('en-US')} req/s, p50 ${Math.round(phase.p50Us)} µs, ` +
        `p99 ${Math.round(phase.p99Us ?? Number.NaN)} µs, CPU ${Math.round(cpuPerRequest(phase) ?? Number.NaN)} µs/req`
  const errors = phase.errors === 0 ? '' : `, ${phase.errors} failed: ${phase.firstError}`
  return `round ${round} ${curve.id} ${curve.formatX(x)} ${series} @${phase.inFlight}: ${figures}${errors}`
}

await runCommand(parseCurveOptions, CURVES_USAGE, main)
