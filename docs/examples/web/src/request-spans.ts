import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api'
import type { FastifyInstance, FastifyRequest } from 'fastify'

const tracer = trace.getTracer('@exorelay-examples/web')

// Each request's span and the context its handler runs in, for as long as the request lives.
const active = new WeakMap<FastifyRequest, Context>()

/**
 * A SERVER span for every request to `api`, named and attributed as OpenTelemetry's HTTP
 * conventions ask (`POST /users`), that the route's handler runs in: the messages it sends
 * are the span's children, so a trace starts at the API. A `traceparent` header from the
 * client continues the client's trace. Without an OpenTelemetry SDK in the process, the spans
 * are no-ops that cost next to nothing.
 */
export function traceRequests(api: FastifyInstance): void {
  api.addHook('onRequest', (request, reply, done) => {
    const route = request.routeOptions.url
    const parent = propagation.extract(ROOT_CONTEXT, request.headers)
    const span = tracer.startSpan(
      route === undefined ? request.method : `${request.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': request.method,
          'url.path': request.url.split('?')[0],
          'url.scheme': request.protocol,
          ...(route === undefined ? {} : { 'http.route': route }),
        },
      },
      parent,
    )
    active.set(request, trace.setSpan(parent, span))
    // A client that goes away before the answer gets no onResponse (nor, once its body was
    // read, onRequestAbort): the connection's close ends the span, as aborted.
    reply.raw.once('close', () => {
      if (reply.raw.writableFinished || !active.has(request)) return
      active.delete(request)
      span.setAttribute('error.type', 'aborted')
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: 'the client went away before the answer',
      })
      span.end()
    })
    done()
  })

  // After the body is read, the last step before the handler: Fastify calls the handler from
  // `done`, so the handler (and everything it awaits) runs in the span's context.
  api.addHook('preHandler', (request, _reply, done) => {
    const spanContext = active.get(request)
    if (spanContext === undefined) done()
    else context.with(spanContext, done)
  })

  api.addHook('onResponse', (request, reply, done) => {
    const span = trace.getSpan(active.get(request) ?? ROOT_CONTEXT)
    if (span !== undefined) endSpan(span, reply.statusCode)
    active.delete(request)
    done()
  })
}

/** A server span is an error only for a 5xx: a 4xx is the client's mistake, well answered. */
function endSpan(span: Span, statusCode: number): void {
  span.setAttribute('http.response.status_code', statusCode)
  if (statusCode >= 500) {
    span.setAttribute('error.type', String(statusCode))
    span.setStatus({ code: SpanStatusCode.ERROR })
  }
  span.end()
}
