import type { Channel } from 'node:diagnostics_channel'
import { createRequire } from 'node:module'
import { diagnostics } from '@exorelay/core'
import type { MeterProvider, TracerProvider } from '@opentelemetry/api'
import { createInstruments, MessagingSpans } from './messaging-spans.js'

const NAME = '@exorelay/opentelemetry'
const VERSION: string = createRequire(import.meta.url)('../package.json').version

/** Options of {@link ExoRelayInstrumentation}: OpenTelemetry's instrumentation config. */
export interface ExoRelayInstrumentationConfig {
  /** Subscribe at once (the default), or only when `enable()` or `registerInstrumentations` asks. */
  enabled?: boolean
}

/**
 * Traces and metrics for every relay in the process, from the tracing channels the relays
 * publish (`exorelay:send`, `exorelay:handle`), as `@opentelemetry/instrumentation-undici`
 * does for undici: a PRODUCER span per send (a request's lasts until its reply), a CONSUMER
 * span per handled message, and the messaging conventions' duration histograms and counters.
 * Nothing is loaded or published while it is not enabled.
 *
 * It fits OpenTelemetry's `Instrumentation` interface: pass it to the Node SDK's
 * `instrumentations` or to `registerInstrumentations`, which hand it their providers; on its
 * own it uses the global ones.
 *
 * @example
 * ```ts
 * import { NodeSDK } from '@opentelemetry/sdk-node'
 * import { ExoRelayInstrumentation } from '@exorelay/opentelemetry'
 * new NodeSDK({ instrumentations: [new ExoRelayInstrumentation()] }).start()
 * ```
 */
export class ExoRelayInstrumentation {
  readonly instrumentationName: string = NAME
  readonly instrumentationVersion = VERSION
  #config: ExoRelayInstrumentationConfig
  #enabled = false
  readonly #spans: MessagingSpans
  // Each channel and its handler. The start handlers come and go with enable() and disable();
  // the end handlers stay once subscribed, so that no span started is left open.
  readonly #starts: [Channel, (message: any) => void][]
  readonly #ends: [Channel, (message: any) => void][]
  #endsSubscribed = false

  constructor(config: ExoRelayInstrumentationConfig = {}) {
    this.#config = { ...config }
    // Without providers handed over, the global ones: the tracer is looked up on each message
    // until an SDK registers one, the meter at the first message.
    this.#spans = new MessagingSpans(NAME, VERSION)
    const spans = this.#spans
    const { sendTracing, handleTracing } = diagnostics
    this.#starts = [
      [sendTracing.start, spans.sendStart],
      [handleTracing.start, spans.handleStart],
    ]
    this.#ends = [
      [sendTracing.asyncEnd, spans.sendEnd],
      [handleTracing.end, spans.handleEnd],
      [handleTracing.asyncEnd, spans.handleAsyncEnd],
    ]
    if (config.enabled !== false) this.enable()
  }

  /** Subscribes to the relays' tracing channels. Calling it twice changes nothing. */
  enable(): void {
    if (this.#enabled) return
    this.#enabled = true
    for (const [channel, handler] of this.#starts) channel.subscribe(handler)
    if (this.#endsSubscribed) return
    this.#endsSubscribed = true
    for (const [channel, handler] of this.#ends) channel.subscribe(handler)
  }

  /**
   * Stops tracing: relays start no more traces and publish nothing new. Spans already started
   * still end (their end handlers stay subscribed, and cost nothing without a span).
   */
  disable(): void {
    if (!this.#enabled) return
    this.#enabled = false
    for (const [channel, handler] of this.#starts) channel.unsubscribe(handler)
  }

  /** Makes the spans with this provider's tracer (the SDK calls it; else the global one). */
  setTracerProvider(tracerProvider: TracerProvider): void {
    this.#spans.tracer = tracerProvider.getTracer(NAME, VERSION)
  }

  /** Records the metrics with this provider's meter (the SDK calls it; else the global one). */
  setMeterProvider(meterProvider: MeterProvider): void {
    this.#spans.instruments = createInstruments(meterProvider.getMeter(NAME, VERSION))
  }

  /** Replaces the configuration. */
  setConfig(config: ExoRelayInstrumentationConfig): void {
    this.#config = { ...config }
  }

  /** The configuration, `enabled` defaulting to true as OpenTelemetry's instrumentations do. */
  getConfig(): ExoRelayInstrumentationConfig {
    return { enabled: true, ...this.#config }
  }
}
