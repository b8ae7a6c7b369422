// The systems of `npm run curves`, started in the shape one point of a curve needs: a payload
// size, several instances of the responder, fan-out receivers, a larger routing table.
// The same bus and service scripts as `npm run bench`, so the curves' figures and the
// benchmark's are of the same systems.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type ExtraRoutes, registerExtraRoutes } from './curve-routes.js'
import {
  ENV_BUS_PORT,
  ENV_EXTRA_SERVICES,
  ENV_FAN_OUT,
  ENV_NATS_SERVER,
  ENV_PAYLOAD_BYTES,
} from './ipc.js'
import { natsUnavailable, startNatsBus } from './nats-server.js'
import { REPLY_NAME, REQUEST_NAME } from './payload.js'
import { NodeChild } from './processes.js'
import { type RunningSystem, type StartedBus, type StartOptions, startSystem } from './scenario.js'

/** The systems the curves compare. */
export const CURVE_SYSTEM_IDS = ['floor', 'exorelay', 'nats', 'exorelay-nats'] as const
export type CurveSystemId = (typeof CURVE_SYSTEM_IDS)[number]

/** The title of each system in tables and legends, as `npm run bench` has it. */
export const CURVE_SYSTEM_TITLES: Readonly<Record<CurveSystemId, string>> = {
  floor: 'floor',
  exorelay: 'ExoRelay',
  nats: 'NATS',
  'exorelay-nats': 'ExoRelay over NATS',
}

/** How one point of a curve shapes the system; every field is optional. */
export interface PointShape {
  /** Bytes of the JSON payload. Default: the usual 96. */
  readonly payloadBytes?: number | undefined
  /** Processes of the answering service, each an instance of it. Default 1. */
  readonly responders?: number | undefined
  /** Receiving services in one process (ExoRelay only), each answering every request. */
  readonly fanOut?: number | undefined
  /** Services and names registered with ExoCom before the load (ExoRelay over HTTP only). */
  readonly routes?: ExtraRoutes | undefined
}

/** What {@link startCurveSystem} needs besides the shape. */
export interface CurveStartOptions extends StartOptions {
  /** A folder for files the start writes (nats-server's configuration). */
  readonly scratch: string
}

/**
 * nats-server's `max_payload` for the curves: its default, 1 MiB, is about the largest
 * payload of the payload curve (1,000,000 bytes) with the envelope around it.
 */
export const NATS_MAX_PAYLOAD = 8 * 1024 * 1024

/** Why `system` cannot run here (nats-server missing), or `undefined` when it can. */
export function curveSystemUnavailable(system: CurveSystemId): string | undefined {
  return system === 'nats' || system === 'exorelay-nats' ? natsUnavailable() : undefined
}

/**
 * Starts `system` shaped as `shape`: its bus, the answering service (as many instances as
 * asked, or the fan-out receivers), the requesting service, then what the shape adds. Every
 * service gets the payload size in its environment.
 */
export async function startCurveSystem(
  system: CurveSystemId,
  shape: PointShape,
  options: CurveStartOptions,
): Promise<RunningSystem> {
  const { fanOut, routes } = shape
  const responders = shape.responders ?? 1
  if ((fanOut !== undefined || responders > 1) && (system === 'floor' || system === 'nats')) {
    throw new Error(`The ${system} system has no fan-out receivers and no instances.`)
  }
  if (routes !== undefined && system !== 'exorelay') {
    throw new Error(`Only ExoRelay's bus takes extra routes, not the ${system} system's.`)
  }
  const env: Record<string, string> = {
    ...(shape.payloadBytes === undefined
      ? {}
      : { [ENV_PAYLOAD_BYTES]: String(shape.payloadBytes) }),
    ...(fanOut === undefined ? {} : { [ENV_FAN_OUT]: String(fanOut) }),
  }
  const scripts =
    fanOut !== undefined
      ? { responder: 'curve-fanout-receivers.ts', requester: 'curve-fanout-requester.ts' }
      : SCRIPTS[system]
  const extras: NodeChild[] = []
  const started = await startSystem(
    options,
    () => startBus(system, env, shape, options),
    scripts,
    async ({ bus, responder, requester }) => {
      // The floor's bus is told its routes; ExoRelay's services register themselves.
      if (system === 'floor' && bus.process instanceof NodeChild) {
        await bus.process.request({
          type: 'routes',
          routes: { [REQUEST_NAME]: responder.port, [REPLY_NAME]: requester.port },
        })
      }
      if (routes !== undefined) await registerExtraRoutes(Number(bus.env[ENV_BUS_PORT]), routes)
      try {
        // The other instances join once the first answers: each is routed to when it is ready.
        for (let instance = 2; instance <= responders; instance++) {
          const label = `responder-${instance}`
          extras.push(
            await NodeChild.start(label, scripts.responder, {
              env: bus.env,
              execArgv: options.execArgv(label),
            }),
          )
        }
      } catch (error) {
        for (const extra of extras) await extra.stop()
        throw error
      }
    },
  )
  // Before the bus in the list: stopSystem stops processes in reverse order, the bus last.
  const [bus, ...services] = started.processes
  return { ...started, processes: [bus!, ...extras, ...services] }
}

const SCRIPTS: Readonly<Record<CurveSystemId, { responder: string; requester: string }>> = {
  floor: { responder: 'floor-responder.ts', requester: 'floor-requester.ts' },
  exorelay: { responder: 'exorelay-responder.ts', requester: 'exorelay-requester.ts' },
  nats: { responder: 'nats-responder.ts', requester: 'nats-requester.ts' },
  'exorelay-nats': {
    responder: 'exorelay-nats-responder.ts',
    requester: 'exorelay-nats-requester.ts',
  },
}

async function startBus(
  system: CurveSystemId,
  env: Readonly<Record<string, string>>,
  shape: PointShape,
  options: CurveStartOptions,
): Promise<StartedBus> {
  switch (system) {
    case 'floor':
    case 'exorelay': {
      const busEnv =
        shape.routes === undefined
          ? env
          : { ...env, [ENV_EXTRA_SERVICES]: String(shape.routes.services) }
      const bus = await NodeChild.start(
        'bus',
        system === 'floor' ? 'floor-bus.ts' : 'exorelay-bus.ts',
        { env: busEnv, execArgv: options.execArgv('bus') },
      )
      return { process: bus, env: { ...env, [ENV_BUS_PORT]: String(bus.port) } }
    }
    case 'nats':
    case 'exorelay-nats': {
      const config = join(options.scratch, 'nats-server.conf')
      await writeFile(config, `max_payload: ${NATS_MAX_PAYLOAD}\n`)
      return startNatsBus(
        (port) =>
          system === 'nats'
            ? { ...env, [ENV_NATS_SERVER]: `127.0.0.1:${port}` }
            : { ...env, EXORELAY_TRANSPORT: 'nats', NATS_URL: `nats://127.0.0.1:${port}` },
        ['--config', config],
      )
    }
  }
}
