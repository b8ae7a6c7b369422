import { EXORELAY_NO_STACKS } from './exorelay-scenario.js'
import { ENV_BUS_PORT } from './ipc.js'
import { REPLY_NAME, REQUEST_NAME } from './payload.js'
import { NodeChild } from './processes.js'
import { type Scenario, type SystemId, startSystem } from './scenario.js'

/** The script each of a floor system's three processes runs. */
interface FloorParts {
  readonly bus: string
  readonly responder: string
  readonly requester: string
}

const FLOOR: FloorParts = {
  bus: 'floor-bus.ts',
  responder: 'floor-responder.ts',
  requester: 'floor-requester.ts',
}

/**
 * The floor: a hand-written minimal relay, the least that speaks the ExoCom HTTP protocol.
 * Three processes (bus, responder, requester), Fastify listeners and undici senders,
 * correlation by id, no validation, no timeouts, no logging. What ExoRelay costs beyond it
 * is the price of the library.
 */
export const floorScenario: Scenario = floorSystem('floor', 'floor', FLOOR, {
  description:
    'hand-written minimal relay: Fastify listener + undici sender per service, a Fastify + undici bus, correlation by id, no logging',
})

/**
 * The floor with one process replaced by ExoRelay's, the rest unchanged: the bus by
 * `@exorelay/exocom` (its routes given as the floor's are), or one service by a relay of the
 * `exorelay` package. Each speaks the protocol the other two expect, so the difference from
 * the floor in the same round is what that one component costs. Not run by default.
 */
export const mixedScenarios: readonly Scenario[] = [
  floorSystem(
    'mix-bus',
    'floor, ExoCom bus',
    { ...FLOOR, bus: 'exorelay-bus.ts' },
    {
      description:
        'the floor with @exorelay/exocom (logger: false) as its bus, routes set as the floor bus gets them',
    },
  ),
  floorSystem(
    'mix-requester',
    'floor, ExoRelay requester',
    { ...FLOOR, requester: 'exorelay-requester.ts' },
    {
      description:
        "the floor with ExoRelay's requesting service (the exorelay package, as in the ExoRelay row)",
      noStacks: EXORELAY_NO_STACKS,
    },
  ),
  floorSystem(
    'mix-responder',
    'floor, ExoRelay responder',
    { ...FLOOR, responder: 'exorelay-responder.ts' },
    {
      description:
        "the floor with ExoRelay's answering service (the exorelay package, as in the ExoRelay row)",
    },
  ),
]

function floorSystem(
  id: SystemId,
  title: string,
  parts: FloorParts,
  { description, noStacks }: { description: string; noStacks?: string },
): Scenario {
  return {
    id,
    title,
    description,
    noStacks,
    unavailable: () => undefined,
    start: (options) =>
      startSystem(
        options,
        async () => {
          const bus = await NodeChild.start('bus', parts.bus, { execArgv: options.execArgv('bus') })
          return { process: bus, env: { [ENV_BUS_PORT]: String(bus.port) } }
        },
        parts,
        ({ bus, responder, requester }) =>
          bus.process.request({
            type: 'routes',
            routes: { [REQUEST_NAME]: responder.port, [REPLY_NAME]: requester.port },
          }),
      ),
  }
}
