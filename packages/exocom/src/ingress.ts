import { type Envelope, ErrorCodes, type Logger } from '@exorelay/core'
import { CANCEL, describeValue, ERROR_REPLY } from '@exorelay/core/internal'
import {
  type AnswerTexts,
  addIngressRoutes,
  ingressErrorHandler,
  sendErrorAnswer,
  tokenCheck,
} from '@exorelay/fastify-listener/internal'
import {
  BATCH_ACCEPTED,
  type BatchResult,
  batchFailure,
  MAX_BATCH_MESSAGES,
  SEND_BATCH_PATH,
  statusOf,
} from '@exorelay/http-protocol'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { busyText, type Deliverer, type RoutedMessage } from './delivery.js'
import { scanMessageBody } from './envelope-scan.js'
import type { AcceptedMessage, EventStream } from './event-stream.js'
import { forwardedBody } from './forwarded-body.js'
import type { Identities } from './identity.js'
import type { Delivery, RoutingTable } from './routing-table.js'

/**
 * The bus's texts: sentences, like every other answer of the bus. Its whole server is the
 * protocol's, so every client error is answered, with the code `INVALID_MESSAGE`.
 */
export const SENTENCES: AnswerTexts = Object.freeze({
  style: 'sentence',
  emptyBodyCode: ErrorCodes.INVALID_MESSAGE,
  emptyBody: 'The request body is empty although its content type is application/json.',
  // Fastify's proto-poisoning protection refuses `__proto__` keys with this same error.
  invalidJson: "The request body is not valid JSON, or it has a '__proto__' key.",
  mediaType: (contentType: string | undefined) =>
    `The content type ${describeValue(contentType)} is not supported: send application/json.`,
  tooLarge: (bodyLimit: number) =>
    `The request body is larger than the limit of ${bodyLimit} bytes.`,
  badUrl: (url: string) => `The URL ${describeValue(url)} cannot be URL-decoded.`,
  otherClientError: (message: string) => `The request is invalid: ${message}`,
  everyClientError: true,
  // Not core's `unknown message: '<name>'`: a rejected name may be long, so it is quoted short.
  invalidName: (name: unknown, problem: string) =>
    `Unknown message ${describeValue(name)}: a message name ${problem}.`,
})

const ROUTING_FAILED = batchFailure(
  statusOf(ErrorCodes.BUS_FAILED),
  ErrorCodes.BUS_FAILED,
  'ExoCom failed to route the message; see its log.',
)

const CLOSING = batchFailure(
  statusOf(ErrorCodes.BUS_CLOSING),
  ErrorCodes.BUS_CLOSING,
  'ExoCom is shutting down',
)

// Seconds a sender is told to wait before it sends a refused message again (`retry-after`): a
// busy receiver frees a place as soon as one of its deliveries ends, so the smallest the
// header can say.
const BUSY_RETRY_AFTER = 1

/** What the ingress of the bus needs from the rest of it. */
export interface BusIngressOptions {
  readonly table: RoutingTable
  readonly deliverer: Deliverer
  /** Where each accepted message is told, for the clients of `GET /events`. */
  readonly events: EventStream
  readonly logger: Logger
  readonly bodyLimit: number
  readonly batches: boolean
  readonly token: string | undefined
  /** Identity mode: a message's sender comes from its request's credential. */
  readonly identities?: Identities | undefined
  /** Whether the bus is shutting down: then every `POST /send` is answered 503. */
  readonly closing: () => boolean
}

/**
 * The bus's side of the ingress: `POST /send/<name>` and, with batches, `POST /send`, the
 * answers to requests Fastify could not read and to unknown routes, and the token check.
 * Returns how a message is routed; the bus's own messages (no request) go that way too.
 */
export function addBusIngress(
  app: FastifyInstance,
  options: BusIngressOptions,
): (envelope: Envelope, request?: FastifyRequest) => BatchResult {
  const { table, deliverer, events, bodyLimit, closing, identities } = options
  const log = options.logger

  // Fastify parses text/plain by default; the protocol is JSON only, so that is a 415.
  app.removeContentTypeParser('text/plain')

  app.setErrorHandler(
    ingressErrorHandler({
      bodyLimit,
      texts: SENTENCES,
      otherwise: (error, request, reply) => {
        log.error({ err: error, method: request.method, url: request.url }, 'request failed')
        sendErrorAnswer(reply, {
          status: statusOf(ErrorCodes.BUS_FAILED),
          code: ErrorCodes.BUS_FAILED,
          text: 'ExoCom failed to handle the request; see its log.',
        })
      },
    }),
  )

  app.setNotFoundHandler((request, reply) => {
    sendErrorAnswer(reply, {
      status: statusOf(ErrorCodes.BUS_NO_ROUTE),
      code: ErrorCodes.BUS_NO_ROUTE,
      text: `ExoCom has no route for ${request.method} '${request.url}'.`,
    })
  })

  // Guards every route, whatever it is, but the open ones (`GET /status`).
  if (options.token !== undefined) app.addHook('onRequest', tokenCheck(options.token, log))

  /**
   * Routes one message a sender posted, with every check of `POST /send/<name>` but the name's:
   * answers what that route answers for it, whichever way the message came.
   */
  const route = (envelope: Envelope): BatchResult => {
    const { name, sender } = envelope
    if (sender === undefined || sender.length === 0) {
      return batchFailure(
        statusOf(ErrorCodes.INVALID_MESSAGE),
        ErrorCodes.INVALID_MESSAGE,
        `The message ${describeValue(name)} has no sender: its body needs 'sender', the sending service's name.`,
      )
    }
    const { id, responseTo, instance } = envelope
    const accepted = performance.now()
    // Built once for every receiver, and before the sender is answered. A payload the full
    // parser read (one nested past the scan's depth) is serialised here, and JSON.parse accepts
    // nesting that JSON.stringify cannot write back (it recurses): such a body must be refused
    // here rather than accepted and then fail every delivery.
    let body: string
    try {
      body = forwardedBody(envelope)
    } catch (error) {
      return batchFailure(
        statusOf(ErrorCodes.INVALID_MESSAGE),
        ErrorCodes.INVALID_MESSAGE,
        `The body of the message ${describeValue(name)} cannot be forwarded: it cannot be written as JSON again (${error instanceof Error ? error.message : String(error)}).`,
      )
    }
    if (name === CANCEL) return cancel(envelope, sender, body, accepted)
    const routing = table.route(sender, name, responseTo, instance)
    const { publicName } = routing
    let { deliveries } = routing
    if (publicName === ERROR_REPLY) {
      deliveries = deliveries.filter((delivery) => delivery.service.errorReplies === true)
      if (deliveries.length < routing.deliveries.length) {
        // Never to a relay that did not declare it understands them: an original relay runs
        // its callback with outcome '__error' and the error as the payload of a success.
        const refusers = routing.deliveries
          .filter((delivery) => delivery.service.errorReplies !== true)
          .map((delivery) => `'${delivery.service.name}'`)
          .join(', ')
        const why = `${refusers} did not declare that it understands error replies (errorReplies)`
        log.warn(
          { sender, messageName: publicName, messageId: id, responseTo },
          `error reply not delivered: ${why}`,
        )
        if (deliveries.length === 0) {
          return unrouted(
            { publicName, sentName: name, sender, id, responseTo, accepted },
            envelope.payload,
            `No service takes the error reply: ${why}. Its requester times out, as with the original ExoCom.`,
          )
        }
      }
    }
    if (deliveries.length === 0) {
      const requester = responseTo === undefined ? undefined : table.senderOf(responseTo)
      const message =
        requester === undefined
          ? `No service receives the message '${publicName}': no service registered for it, and the routing table lists none. Start the service that handles it; GET /config.json lists the routes.`
          : `No service receives the reply '${publicName}': the instance of '${requester}' that sent the message it answers is gone, and no service receives the name.`
      log.warn({ sender, messageName: publicName, messageId: id }, message)
      return unrouted(
        { publicName, sentName: name, sender, id, responseTo, accepted },
        envelope.payload,
        message,
      )
    }
    const routed: RoutedMessage = {
      publicName,
      sentName: name,
      sender,
      instance,
      traceparent: envelope.traceparent,
      id,
      responseTo,
      body,
      receivers: deliveries.length,
      accepted,
    }
    // Before it is accepted, never after: a receiver that cannot take it refuses it for all.
    // Cancellations are not checked: each frees a receiver of a request it already holds.
    const busy = deliverer.busy(deliveries, body.length)
    if (busy !== undefined)
      return refuseBusy(deliveries, routed, envelope.payload, busyText(busy, routed))
    // A request (it has a deadline): its cancellation, if one comes, goes where it went.
    table.remember(id, sender, instance, envelope.timeout === undefined ? undefined : deliveries)
    return deliverAll(deliveries, routed, envelope.payload)
  }

  // No receiver got it: the sender is answered 503 at once, and may send it again later.
  const refuseBusy = (
    deliveries: readonly Delivery[],
    routed: RoutedMessage,
    payload: unknown,
    reason: string,
  ): BatchResult => {
    events.message(routed, deliveries, payload)
    for (const delivery of deliveries) {
      events.delivery(delivery, routed, 'busy', undefined, reason, ErrorCodes.BUS_RECEIVER_BUSY)
    }
    log.warn(
      { sender: routed.sender, messageName: routed.publicName, messageId: routed.id },
      `not accepted: ${reason}`,
    )
    return batchFailure(
      statusOf(ErrorCodes.BUS_RECEIVER_BUSY),
      ErrorCodes.BUS_RECEIVER_BUSY,
      reason,
      BUSY_RETRY_AFTER,
    )
  }

  // Accepted once every delivery started: a slow receiver must never stall the sender.
  const deliverAll = (
    deliveries: readonly Delivery[],
    routed: RoutedMessage,
    payload: unknown,
  ): BatchResult => {
    // Before its deliveries: the stream tells the message before any outcome of it.
    events.message(routed, deliveries, payload)
    for (const delivery of deliveries) deliverer.deliver(delivery, routed)
    return BATCH_ACCEPTED
  }

  // No service takes the message: the sender is answered 404 with `reason`.
  const unrouted = (message: AcceptedMessage, payload: unknown, reason: string): BatchResult => {
    events.unrouted(message, payload, reason)
    return batchFailure(statusOf(ErrorCodes.NO_RECEIVER), ErrorCodes.NO_RECEIVER, reason)
  }

  /**
   * A sender no longer waits for its request (`responseTo`): the instances that took it, and
   * understand cancellations, are told (decision 0019).
   */
  const cancel = (
    envelope: Envelope,
    sender: string,
    body: string,
    accepted: number,
  ): BatchResult => {
    const { id, responseTo, instance } = envelope
    const deliveries =
      responseTo === undefined ? [] : table.cancellationsOf(responseTo, sender, instance)
    if (deliveries.length === 0) {
      return unrouted(
        { publicName: CANCEL, sender, id, responseTo, accepted },
        envelope.payload,
        `No service takes the cancellation of ${describeValue(responseTo)}: ExoCom routed no request with that id and a timeout from this sender (or forgot it, or it was cancelled already), or its receivers do not understand cancellations (cancels).`,
      )
    }
    return deliverAll(
      deliveries,
      { publicName: CANCEL, sender, id, responseTo, body, receivers: deliveries.length, accepted },
      envelope.payload,
    )
  }

  // A failure while routing one message is that message's answer alone: in a batch, the
  // others keep theirs. The bus's own messages (liveness) go the same way.
  const handle = (envelope: Envelope, request?: FastifyRequest): BatchResult => {
    try {
      if (identities !== undefined && request !== undefined) {
        const sender = identities.sender(request, envelope)
        if (typeof sender === 'object') return sender
        if (sender !== undefined && sender !== envelope.sender)
          return route({ ...envelope, sender })
      }
      return route(envelope)
    } catch (error) {
      log.error(
        { err: error, sender: envelope.sender, messageName: envelope.name, messageId: envelope.id },
        'routing a message failed',
      )
      return ROUTING_FAILED
    }
  }

  // The send routes in a context of their own, whose JSON parser is the envelope scan: the
  // payload is checked and kept as the text the sender wrote, never built as objects nor
  // written again (decision 0028). What the scan does not take, malformed or unusual, goes to
  // Fastify's parser, so it is answered exactly as before. The other routes keep that parser.
  const fullParser = app.getDefaultJsonParser('error', 'error')
  app.register(async (ingress) => {
    ingress.removeContentTypeParser('application/json')
    ingress.addContentTypeParser(
      'application/json',
      { parseAs: 'string' },
      (request, text, done) => {
        // parseAs 'string': always a string.
        const body = String(text)
        const scanned = scanMessageBody(body, MAX_BATCH_MESSAGES)
        if (scanned === undefined) fullParser(request, body, done)
        else done(null, scanned)
      },
    )
    addIngressRoutes(ingress, {
      prefix: SEND_BATCH_PATH,
      bodyLimit,
      batches: options.batches,
      unbatched: 'batch',
      texts: SENTENCES,
      handle,
      // Deliveries started now could not be waited for; the sender learns it at once.
      refusal: () => (closing() ? CLOSING : undefined),
    })
  })
  return handle
}
