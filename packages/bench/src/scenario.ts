import { type MeasuredProcess, NodeChild } from './processes.js'

/** The systems compared; `core` is the in-process micro-benchmark, not a system. */
export const SYSTEM_IDS = [
  'floor',
  'exorelay',
  'exorelay-otel-api',
  'exorelay-otel-sdk',
  'exorelay-unbatched',
  'nats',
  'exorelay-nats',
  'moleculer-nats',
  'moleculer-tcp',
  'exorelay-nats-otel-api',
  'exorelay-nats-otel-sdk',
  'exorelay-flood',
  'exorelay-events-1',
  'exorelay-events-100',
  'mix-bus',
  'mix-requester',
  'mix-responder',
] as const
/** The floor with one ExoRelay component: run only when asked for with `--only`. */
export const MIXED_IDS: readonly SystemId[] = ['mix-bus', 'mix-requester', 'mix-responder']
/** ExoRelay with `@exorelay/opentelemetry`, without and with an SDK (issue 15). */
export const TELEMETRY_IDS: readonly SystemId[] = [
  'exorelay-otel-api',
  'exorelay-otel-sdk',
  'exorelay-nats-otel-api',
  'exorelay-nats-otel-sdk',
]
/** ExoRelay while 1 and 100 clients follow the bus's event stream (issue 18). */
export const EVENTS_IDS: readonly SystemId[] = ['exorelay-events-1', 'exorelay-events-100']
/**
 * What runs only when `--only` names it: the mixed systems, ExoRelay under a registration
 * flood (issue 14), with OpenTelemetry (issue 15) and followed on its event stream (issue 18).
 * The last three are compared with the plain ExoRelay rows and need no place in every run.
 */
export const OPT_IN_IDS: readonly SystemId[] = [
  ...MIXED_IDS,
  'exorelay-flood',
  ...TELEMETRY_IDS,
  ...EVENTS_IDS,
]
export type SystemId = (typeof SYSTEM_IDS)[number]

/**
 * The order the systems run in round `round` (1, 2, …): each round starts one system later in
 * the list (A B C, B C A, C A B, A B C, …). A system that always ran at the same place in a
 * round would carry whatever that place costs (in an A/A run of two identical ExoRelay systems,
 * 5 rounds, the second was 1.08 times as fast as the first, faster in 4 of them), and a
 * comparison within rounds cannot tell that from the systems' own difference. Over a multiple
 * of the number of systems, every system runs at every place equally often.
 */
export function roundOrder<T>(systems: readonly T[], round: number): T[] {
  if (systems.length === 0) return []
  const shift = (round - 1) % systems.length
  return [...systems.slice(shift), ...systems.slice(0, shift)]
}

/** How to start a system's Node.js processes. */
export interface StartOptions {
  /** Extra node flags for every Node.js process of the system (e.g. `--cpu-prof`). */
  readonly execArgv: (label: string) => readonly string[]
}

/** A system, started and ready for load. */
export interface RunningSystem {
  /** Every process whose CPU time and memory belong to the system, in start order. */
  readonly processes: readonly MeasuredProcess[]
  /** The requesting service: runs the load generator in its own process. */
  readonly requester: NodeChild
  /**
   * Load beside the measured requests, not part of the system (the registration flood): its
   * counts are read around each measured phase, its CPU time is not the system's.
   */
  readonly background?: NodeChild | undefined
  /**
   * Clients of the bus's event stream (issue 18), beside the system like `background`, their
   * CPU time not the system's; nothing is read from them around a phase.
   */
  readonly followers?: NodeChild | undefined
}

/** One system under test: how to start it, and why it may not run on this machine. */
export interface Scenario {
  readonly id: SystemId
  /** For tables, e.g. `ExoRelay`. */
  readonly title: string
  /** What the system is, in one line, for the report, with the libraries' default options. */
  readonly description: string
  /** What `--no-stacks` changes in the system; absent when it captures no stack per request. */
  readonly noStacks?: string | undefined
  /** Why it cannot run here (a missing binary), or `undefined` when it can. */
  unavailable(): string | undefined
  start(options: StartOptions): Promise<RunningSystem>
}

/** Stops the load beside the system, then processes in reverse start order: the bus last. */
export async function stopSystem(system: {
  readonly processes: readonly MeasuredProcess[]
  readonly background?: NodeChild | undefined
  readonly followers?: NodeChild | undefined
}): Promise<void> {
  await system.followers?.stop()
  await system.background?.stop()
  for (const process of [...system.processes].reverse()) await process.stop()
}

/** The bus of a system, started: its process and what the services need to reach it. */
export interface StartedBus {
  readonly process: MeasuredProcess
  readonly env: Readonly<Record<string, string>>
}

/**
 * Starts a system: its bus, then the answering service and the requesting service (scripts of
 * this package, given the bus's `env`), then `connect` (e.g. the bus's routes). Whatever
 * started is stopped again if a step fails.
 */
export async function startSystem<Bus extends StartedBus>(
  options: StartOptions,
  startBus: () => Promise<Bus>,
  scripts: { readonly responder: string; readonly requester: string },
  connect?: (system: { bus: Bus; responder: NodeChild; requester: NodeChild }) => Promise<unknown>,
): Promise<RunningSystem> {
  const started: MeasuredProcess[] = []
  try {
    const bus = await startBus()
    started.push(bus.process)
    const service = async (label: 'responder' | 'requester') => {
      const child = await NodeChild.start(label, scripts[label], {
        env: bus.env,
        execArgv: options.execArgv(label),
      })
      started.push(child)
      return child
    }
    // The responder first, so that it receives (or has registered) before the first request.
    const responder = await service('responder')
    const requester = await service('requester')
    await connect?.({ bus, responder, requester })
    return { processes: started, requester }
  } catch (error) {
    await stopSystem({ processes: started })
    throw error
  }
}
