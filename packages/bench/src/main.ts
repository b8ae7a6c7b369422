// The benchmark's command line: `npm run bench -- [--quick] [--rounds N] [--only …]`.
// Runs the systems one at a time, interleaved round by round (each round starting one system
// later in the list), prints the table and the ratios, and writes latest.json and latest.md
// into a fresh temporary folder (and, with --save, into results/).
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { out, runCommand } from './command.js'
import { type CoreMicroResult, runCoreMicro } from './core-micro.js'
import {
  exorelayNatsOtelApiScenario,
  exorelayNatsOtelSdkScenario,
  exorelayNatsScenario,
} from './exorelay-nats-scenario.js'
import {
  exorelayEvents1Scenario,
  exorelayEvents100Scenario,
  exorelayFloodScenario,
  exorelayOtelApiScenario,
  exorelayOtelSdkScenario,
  exorelayScenario,
  exorelayUnbatchedScenario,
} from './exorelay-scenario.js'
import { floorScenario, mixedScenarios } from './floor-scenario.js'
import { ENV_NO_STACKS } from './ipc.js'
import { atEnd, machineInfo } from './machine.js'
import { moleculerNatsScenario, moleculerTcpScenario } from './moleculer-scenario.js'
import { natsScenario } from './nats-scenario.js'
import { findNatsServer } from './nats-server.js'
import { type BenchOptions, parseOptions, runFolder, SAVED_RESULTS, USAGE } from './options.js'
import { PAYLOAD_BYTES } from './payload.js'
import { type ProfileWindow, renderProfiles, summarizeProfiles } from './profile-summary.js'
import {
  buildReport,
  coldProgressLine,
  coreProgressLines,
  type ReportedSystem,
  registrationFigures,
  renderText,
  stackCaptureText,
  writeResults,
} from './report.js'
import { type PhaseResult, runSystemRound, type SystemRound } from './run-system.js'
import { roundOrder, type Scenario, type StartOptions } from './scenario.js'

const PROCESS_LABELS = ['bus', 'responder', 'requester'] as const
const scenarios = (options: BenchOptions): readonly Scenario[] => [
  floorScenario,
  exorelayScenario,
  exorelayOtelApiScenario,
  exorelayOtelSdkScenario,
  exorelayUnbatchedScenario,
  natsScenario,
  exorelayNatsScenario,
  moleculerNatsScenario,
  moleculerTcpScenario,
  exorelayNatsOtelApiScenario,
  exorelayNatsOtelSdkScenario,
  exorelayFloodScenario(options.floodServices),
  exorelayEvents1Scenario,
  exorelayEvents100Scenario,
  ...mixedScenarios,
]

async function main(options: BenchOptions, argv: readonly string[]): Promise<number> {
  const command = `npm run bench${argv.length === 0 ? '' : ` -- ${argv.join(' ')}`}`
  const machine = machineInfo(command, findNatsServer())
  const selected = scenarios(options).filter((scenario) => options.targets.includes(scenario.id))
  const systems: ReportedSystem[] = selected.map((scenario) => ({
    id: scenario.id,
    title: scenario.title,
    description:
      options.stackCapture || scenario.noStacks === undefined
        ? scenario.description
        : `${scenario.description}; --no-stacks: ${scenario.noStacks}`,
    skipped: scenario.unavailable(),
  }))
  const runnable = selected.filter((scenario) => scenario.unavailable() === undefined)
  const withCore = options.targets.includes('core') && !options.cpuProf
  // The children inherit the environment: this reaches every requesting service.
  if (!options.stackCapture) process.env[ENV_NO_STACKS] = 'true'
  const folder = runFolder('exorelay-bench')
  const profiles = join(folder, 'profiles')

  out(`ExoRelay benchmark: ${command}`)
  out(
    `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node.js ${machine.node}` +
      (machine.natsServer === undefined ? '' : `, ${machine.natsServer}`) +
      `; load average ${machine.loadAverage.start.join(' ')}`,
  )
  out(
    `${options.rounds} round(s) of ${[...runnable.map((scenario) => scenario.id), ...(withCore ? ['core'] : [])].join(', ')}; ` +
      `per fresh start ${options.coldRequests} cold-start request/replies @1, then per phase ` +
      `${options.warmupMs / 1000} s warm-up + ${options.durationMs / 1000} s measured ` +
      `(@1, @8, then ${options.warmupRequests} request/replies of burst before @64); ${PAYLOAD_BYTES}-byte payload`,
  )
  out(`Options: ${stackCaptureText(options.stackCapture)}`)
  out(`Results go to ${folder}${options.save ? ` and ${SAVED_RESULTS}` : ''}`)
  for (const system of systems) {
    if (system.skipped !== undefined) out(`${system.title}: skipped: ${system.skipped}`)
  }

  await mkdir(options.cpuProf ? profiles : folder, { recursive: true })
  const rounds: SystemRound[] = []
  const core: CoreMicroResult[] = []
  // Per profile folder, when its measured phase ran: the summary leaves start-up and warm-up out.
  const windows = new Map<string, ProfileWindow>()
  // The same for the cold-start phase, summarised apart: where a fresh system's time goes.
  const coldWindows = new Map<string, ProfileWindow>()
  for (let round = 1; round <= options.rounds; round++) {
    if (withCore) {
      const result = await runCoreMicro({
        iterations: options.coreIterations,
        warmup: options.coreWarmup,
      })
      core.push(result)
      for (const line of coreProgressLines(round, result)) out(line)
    }
    for (const scenario of roundOrder(runnable, round)) {
      const start: StartOptions = {
        execArgv: (label) =>
          options.cpuProf
            ? // One folder per process: tsx's loader thread writes a profile of its own there.
              [
                '--cpu-prof',
                `--cpu-prof-dir=${join(profiles, profileFolder(scenario.id, round, label))}`,
              ]
            : [],
      }
      rounds.push(
        await runSystemRound(scenario, {
          round,
          coldRequests: options.coldRequests,
          latencyPhases: !options.cpuProf,
          warmupRequests: options.warmupRequests,
          warmupMs: options.warmupMs,
          durationMs: options.durationMs,
          start,
          onPhase: (phase, window) => {
            out(progressLine(scenario.title, round, phase))
            for (const label of PROCESS_LABELS)
              windows.set(profileFolder(scenario.id, round, label), window)
          },
          onCold: (cold, window) => {
            out(coldProgressLine(scenario.title, round, cold))
            for (const label of PROCESS_LABELS)
              coldWindows.set(profileFolder(scenario.id, round, label), window)
          },
        }),
      )
    }
  }

  if (options.cpuProf) {
    const markdown = [
      ...(coldWindows.size === 0
        ? []
        : [
            renderProfiles(
              await summarizeProfiles(profiles, coldWindows),
              `the cold-start phase (the first ${options.coldRequests} request/replies @1)`,
            ),
          ]),
      renderProfiles(await summarizeProfiles(profiles, windows), 'the phase @64'),
    ].join('\n')
    const files = [folder, ...(options.save ? [SAVED_RESULTS] : [])].map((directory) =>
      join(directory, 'profile-summary.md'),
    )
    for (const file of files) await writeFile(file, markdown)
    out(`\n${markdown}`)
    out(`Profiles in ${profiles}, summary in ${files.join(' and ')}`)
    return 0
  }

  const report = buildReport({
    machine: atEnd(machine),
    settings: {
      rounds: options.rounds,
      coldRequests: options.coldRequests,
      warmupRequests: options.warmupRequests,
      warmupMs: options.warmupMs,
      durationMs: options.durationMs,
      payloadBytes: PAYLOAD_BYTES,
      coreIterations: options.coreIterations,
      stackCapture: options.stackCapture,
    },
    systems,
    rounds,
    core: withCore ? core : undefined,
  })
  out(renderText(report))
  const files = await writeResults(report, folder)
  if (options.save) files.push(...(await writeResults(report, SAVED_RESULTS)))
  out(`Wrote ${files.join(', ')}`)
  return 0
}

function profileFolder(system: string, round: number, label: string): string {
  return `${system}-r${round}-${label}`
}

function progressLine(title: string, round: number, phase: PhaseResult): string {
  const latency = phase.latencyUs
  const figures =
    latency === undefined
      ? 'no request completed'
      : `${Math.round(phase.throughput).toLocaleString('en-US')} req/s, p50 ${Math.round(latency.median)} µs, ` +
        `p99 ${Math.round(latency.p99)} µs, CPU ${Math.round(phase.cpuPerRequestUs ?? Number.NaN)} µs/req`
  const errors = phase.errors === 0 ? '' : `, ${phase.errors} failed: ${phase.firstError}`
  const flood =
    phase.registrations === undefined ? '' : `; flood: ${registrationFigures(phase.registrations)}`
  return `round ${round} ${title} @${phase.inFlight}: ${figures}${errors}${flood}`
}

await runCommand(parseOptions, USAGE, main)
