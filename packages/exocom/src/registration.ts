import { ErrorCodes, ExoRelayError, type Logger } from '@exorelay/core'
import { describeValue, isInstanceId } from '@exorelay/core/internal'
import { sendErrorAnswer, wildcardOf } from '@exorelay/fastify-listener/internal'
import { BATCHES_OFFERED, type ServiceRegistration, statusOf } from '@exorelay/http-protocol'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Deliverer } from './delivery.js'
import type { EventStream } from './event-stream.js'
import { type RoutingTable, validateService, validateServices } from './routing-table.js'

const INVALID_STATUS = statusOf(ErrorCodes.BUS_INVALID_REGISTRATION)
/** Largest `PUT /services/<name>` body: a thousand long names fit, a flood does not. */
const REGISTRATION_BODY_LIMIT = 256 * 1024

/** What registration changes: the routing table, and the deliverer's pools and batch offers. */
export interface Registrations {
  /**
   * Sets an operator's table of checked entries (`POST /services`, `setServices`): it replaces
   * every configured entry; self-registered services it does not name stay.
   */
  configure(services: ServiceRegistration[]): void
}

/**
 * The routing table as services change it: `POST /services` sets an operator's table (every
 * configured entry replaced, self-registered services kept), `PUT /services/<name>` adds or
 * updates one service (a relay registering itself), `DELETE /services/<name>` withdraws one.
 * Every change keeps the deliverer's pools to the services in the table.
 */
export function addRegistrationRoutes(
  app: FastifyInstance,
  options: {
    table: RoutingTable
    deliverer: Deliverer
    events: EventStream
    logger: Logger
    batches: boolean
  },
): Registrations {
  const { table, deliverer, events, batches } = options
  const log = options.logger

  // Throws, changing nothing, when the table would be past a limit.
  const configure = (services: ServiceRegistration[]): void => {
    // Only when someone follows the stream: what the table held, to tell who left it.
    const before = events.watched ? table.registrations() : undefined
    const kept = table.configure(services)
    const after = table.registrations()
    deliverer.retain(after)
    deliverer.registered(services)
    if (before !== undefined) {
      for (const service of before) {
        if (!after.some((entry) => sameInstance(entry, service))) {
          events.service('withdrawn', service)
        }
      }
      for (const service of services) events.service('registered', service)
    }
    const names = services.map((service) => service.name)
    if (kept.length === 0) log.info({ services: names }, 'routing table replaced')
    else {
      // Said out loud, so an operator who meant to remove one of them learns why it stays.
      log.info(
        { services: names, kept },
        `routing table replaced; kept ${kept.map((name) => `'${name}'`).join(', ')}, which registered ${kept.length === 1 ? 'itself' : 'themselves'} and ${kept.length === 1 ? 'is' : 'are'} not in the table: a relay leaves when it closes, or with DELETE /services/<name>`,
      )
    }
  }

  app.post('/services', (request, reply) => {
    try {
      configure(validateServices(request.body))
    } catch (error) {
      refuse(reply, error)
      return
    }
    reply.code(200).send()
  })

  app.put('/services/*', { bodyLimit: REGISTRATION_BODY_LIMIT }, (request, reply) => {
    const name = wildcardOf(request) ?? ''
    let service: ServiceRegistration
    try {
      service = validateService(request.body, 'The registration')
    } catch (error) {
      refuse(reply, error)
      return
    }
    if (service.name !== name) {
      sendErrorAnswer(reply, {
        status: INVALID_STATUS,
        code: ErrorCodes.BUS_INVALID_REGISTRATION,
        text: `The registration is named '${service.name}' but was sent to '/services/${name}': the names must match.`,
      })
      return
    }
    let change: ReturnType<RoutingTable['register']>
    try {
      change = table.register(service)
    } catch (error) {
      refuse(reply, error)
      return
    }
    const fields = {
      service: name,
      host: service.host,
      port: service.port,
      instance: service.instance,
    }
    // Relays register again every few seconds so a restarted bus relearns them: the same
    // registration again costs a timestamp, a look at its batch offer (a receiver that
    // refused a batch gets batches again once it registers with them) and a debug line.
    deliverer.registered([service])
    if (change === 'unchanged') log.debug(fields, `service '${name}' refreshed its registration`)
    else {
      deliverer.retain(table.registrations())
      events.service('registered', service)
      log.info(
        // At most a few names: a registration may list a thousand.
        { ...fields, receives: service.receives.slice(0, 10), names: service.receives.length },
        change === 'added' ? `service '${name}' registered` : `service '${name}' registered again`,
      )
    }
    if (batches) reply.code(200).send(BATCHES_OFFERED)
    else reply.code(200).send()
  })

  // `?instance=<id>` withdraws that instance alone (a relay closing); without it, every
  // instance of the service goes (an operator).
  app.delete('/services/*', (request, reply) => {
    const name = wildcardOf(request) ?? ''
    const { instance } = request.query as { instance?: string | string[] }
    if (Array.isArray(instance) || (instance !== undefined && !isInstanceId(instance))) {
      const named = Array.isArray(instance)
        ? `${instance.length} instances`
        : `the instance ${describeValue(instance)}, which is no instance id`
      sendErrorAnswer(reply, {
        status: INVALID_STATUS,
        code: ErrorCodes.BUS_INVALID_REGISTRATION,
        text: `The withdrawal of '${name}' names ${named}: name one, as ?instance=<id>, or none to withdraw every instance.`,
      })
      return
    }
    const withdrawn = table.remove(name, instance)
    if (withdrawn.length === 0) {
      sendErrorAnswer(reply, {
        status: statusOf(ErrorCodes.BUS_UNKNOWN_SERVICE),
        code: ErrorCodes.BUS_UNKNOWN_SERVICE,
        text:
          instance === undefined
            ? `No service is registered as '${name}'.`
            : `No instance ${describeValue(instance)} of a service '${name}' is registered.`,
      })
      return
    }
    deliverer.retain(table.registrations())
    for (const service of withdrawn) events.service('withdrawn', service)
    if (instance === undefined) log.info({ service: name }, `service '${name}' withdrawn`)
    else {
      log.info(
        {
          service: name,
          instance,
          left: table.registrations().filter((s) => s.name === name).length,
        },
        `an instance of the service '${name}' withdrew`,
      )
    }
    reply.code(200).send()
  })

  return { configure }
}

/** Whether two entries are one instance: the same service, id and address. */
function sameInstance(a: ServiceRegistration, b: ServiceRegistration): boolean {
  return a.name === b.name && a.instance === b.instance && a.host === b.host && a.port === b.port
}

/** Answers a registration the routing table refused, with the bus's code for it. */
function refuse(reply: FastifyReply, error: unknown): void {
  if (!(error instanceof ExoRelayError)) throw error
  sendErrorAnswer(reply, {
    status: INVALID_STATUS,
    code: ErrorCodes.BUS_INVALID_REGISTRATION,
    text: error.message,
  })
}
