/** The JSON body of the ExoCom protocol, as the floor reads it: no validation at all. */
export interface WireBody {
  readonly sender?: string
  readonly id: string
  readonly payload?: unknown
  readonly responseTo?: string
}

export const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json' }

/** Connections from a service to the bus: the same as ExoRelay's undici sender keeps. */
export const SENDER_CONNECTIONS = 16
