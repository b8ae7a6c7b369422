import { constants } from 'node:os'
import type { Landscape } from './landscape.js'

/** Options of {@link stopOnSignals}. */
export interface StopOnSignalsOptions {
  /**
   * The signals that stop the landscape.
   * @default `['SIGINT', 'SIGTERM', 'SIGHUP']`
   */
  signals?: readonly NodeJS.Signals[] | undefined
  /**
   * Told of the first signal, before the landscape (or its start) stops: to say so, say.
   * @default none
   */
  onStop?: ((signal: NodeJS.Signals) => void) | undefined
  /**
   * Told of a second signal, before the services get SIGKILL and the process exits.
   * @default none
   */
  onKill?: ((signal: NodeJS.Signals) => void) | undefined
}

/** What {@link stopOnSignals} returns: the signal for the start, and the landscape's hook. */
export interface SignalStop {
  /**
   * Aborts at the first signal: pass it as `startLandscape`'s `signal` option, and the start
   * rejects with `signal.reason` (an `Error`, `stopped by SIGINT`) after stopping what started.
   */
  readonly signal: AbortSignal
  /**
   * Hands over the landscape once it started: the first signal stops it (at once, when one came
   * while it started), a second kills it.
   */
  attach(landscape: Pick<Landscape, 'stop' | 'kill'>): void
  /** Stops listening for the signals: once the landscape has stopped. */
  dispose(): void
}

/**
 * The terminal's way of stopping a landscape, for a launcher of your own, as
 * `exoservice landscape` does it (and `exoservice run`, for one service): the first SIGINT,
 * SIGTERM or SIGHUP stops the landscape (or its start) gracefully; a second one kills every
 * service at once and exits the process with 128 + its number (130 for SIGINT, 143 for
 * SIGTERM: the shell's rule), once stderr took what `onKill` wrote. A second signal during
 * the start exits too: the services that started are killed as the process exits.
 *
 * @example
 * ```ts
 * import { startLandscape, stopOnSignals } from 'exoservice'
 *
 * const stop = stopOnSignals({ onStop: (signal) => console.log(`${signal}: stopping`) })
 * try {
 *   const landscape = await startLandscape({ file: 'application.yml', signal: stop.signal })
 *   stop.attach(landscape)
 *   await landscape.stopped
 * } catch (error) {
 *   if (error !== stop.signal.reason) throw error
 * } finally {
 *   stop.dispose()
 * }
 * ```
 */
export function stopOnSignals(options: StopOnSignalsOptions = {}): SignalStop {
  const { signals = ['SIGINT', 'SIGTERM', 'SIGHUP'], onStop, onKill } = options
  const starting = new AbortController()
  let landscape: Pick<Landscape, 'stop' | 'kill'> | undefined
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!starting.signal.aborted) {
      onStop?.(signal)
      starting.abort(new Error(`stopped by ${signal}`))
      void landscape?.stop()
      return
    }
    // The user does not want to wait for the stop.
    onKill?.(signal)
    landscape?.kill()
    // After what onKill wrote: on macOS a pipe is written asynchronously, and an exit right
    // after the write could lose it. An empty write's callback comes once the earlier ones are
    // done.
    process.stderr.write('', () => process.exit(128 + constants.signals[signal]))
  }
  for (const signal of signals) process.on(signal, onSignal)
  return {
    signal: starting.signal,
    attach: (started) => {
      landscape = started
      // A signal that came while the start finished: the start did not see it.
      if (starting.signal.aborted) void started.stop()
    },
    dispose: () => {
      for (const signal of signals) process.off(signal, onSignal)
    },
  }
}
