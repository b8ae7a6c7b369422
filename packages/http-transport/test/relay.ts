import { Relay, type RelayOptions, silentLogger } from '@exorelay/core'
import { HttpTransport, type HttpTransportOptions } from '../src/index.js'

/**
 * A relay over the HTTP transport alone, without the `exorelay` facade: loopback, a free port,
 * a silent logger, and the bus at `exocomPort`.
 */
export function httpRelay(
  serviceName: string,
  exocomPort: number,
  transport: Partial<HttpTransportOptions> = {},
  relay: Partial<Omit<RelayOptions, 'serviceName' | 'transport'>> = {},
): Relay {
  return new Relay({
    serviceName,
    transport: new HttpTransport({
      exocomHost: '127.0.0.1',
      exocomPort,
      defaultPort: 0,
      host: '127.0.0.1',
      advertisedHost: '127.0.0.1',
      logger: silentLogger,
      ...transport,
    }),
    ...relay,
  })
}
