import assert from 'node:assert/strict'
import { type ExoComOptions, startExoCom } from '@exorelay/exocom'
import { type LogEntry, RecordingLogger } from '@exorelay/testing'
import { ExoRelay, type ExoRelayError, type ExoRelayOptions } from '../src/index.js'

// A real bus and real relays for the tests of what the bus lets whom do: the token mismatch
// (case 7 of issue 14) and identity mode (case 5).

type After = { after: (fn: () => Promise<unknown>) => void }

/** How long any wait in these tests may take before the test fails instead of hanging. */
export const DEADLINE = 5_000

/**
 * A bus with `busOptions` (a token, credentials, or neither), and relays on it that record
 * their logs and `error` events. All are closed after the test, relays first.
 */
export async function landscape(t: After, busOptions: ExoComOptions) {
  const bus = await startExoCom({ port: 0, logger: false, ...busOptions })
  const relays: ExoRelay[] = []
  const relay = (serviceName: string, options: Partial<ExoRelayOptions> = {}) => {
    const log = new RecordingLogger()
    const created = new ExoRelay({
      serviceName,
      exocomPort: bus.port,
      port: 0,
      logger: log,
      ...options,
    })
    const errors: ExoRelayError[] = []
    created.on('error', (error) => errors.push(error))
    relays.push(created)
    return { relay: created, log, errors }
  }
  t.after(async () => {
    await Promise.all(relays.map((r) => r.close()))
    await bus.close()
  })
  return { bus, relay }
}

/** A field of the relay's `GET /status` body. */
export async function statusRoute(port: number, field: 'bus' | 'registered'): Promise<unknown> {
  const response = await fetch(`http://127.0.0.1:${port}/status`, {
    signal: AbortSignal.timeout(DEADLINE),
  })
  assert.equal(response.status, 200)
  return ((await response.json()) as Record<string, unknown>)[field]
}

/** The lines logged at `error`, as `[code, message]`. */
export function errorLines(log: RecordingLogger): [unknown, string | undefined][] {
  return log.at('error').map((entry: LogEntry) => [entry.fields.code, entry.message])
}
