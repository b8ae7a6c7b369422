import type { TextMapGetter, TextMapSetter } from '@opentelemetry/api'

/**
 * What carries W3C Trace Context in ExoRelay: a message's own `traceparent` and `tracestate`
 * keys (the bus forwards them; NATS moves them to headers). Other propagators' keys (`b3`,
 * `baggage`) have no place on the wire and are dropped.
 */
export interface TraceCarrier {
  traceparent?: string | undefined
  tracestate?: string | undefined
}

const KEYS = ['traceparent', 'tracestate'] as const

export const carrierGetter: TextMapGetter<TraceCarrier> = {
  keys: (carrier) => KEYS.filter((key) => carrier[key] !== undefined),
  get: (carrier, key) => (key === 'traceparent' || key === 'tracestate' ? carrier[key] : undefined),
}

export const carrierSetter: TextMapSetter<TraceCarrier> = {
  set: (carrier, key, value) => {
    if (key === 'traceparent' || key === 'tracestate') carrier[key] = value
  },
}
