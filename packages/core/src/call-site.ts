import { ExoRelayError } from './errors.js'

/** Where a send was called: the frames of the caller's stack, captured when it sent. */
export interface CallSite {
  stack?: string
}

/**
 * Captures the caller's stack above `entry` (the `send` function the caller called), so that
 * the frames start at the caller's line and show none of the relay's. One capture, on a plain
 * object: no error, no message; V8 formats the frames only if a failure reads them.
 */
export function captureCallSite(entry: (...args: never[]) => unknown): CallSite {
  const site: CallSite = {}
  Error.captureStackTrace(site, entry)
  return site
}

/**
 * `error` with the frames of `site` as its stack, so that it points at the `send` line whatever
 * made it: a timer, a transport's socket callback, a reply from another service. A copy, so
 * that an error shared by several sends (a batch that failed, `close()`) shows each its own
 * line; code, message, cause and the other fields are the original's. Only ExoRelay's own
 * errors are given one: anything else (an abort reason) is passed on as it is.
 */
export function atCallSite<E>(error: E, site: CallSite | undefined): E {
  if (site === undefined || !(error instanceof ExoRelayError)) return error
  const stack = site.stack ?? ''
  const frames = stack.indexOf('\n')
  // `entry` was not on the stack (never expected): the error's own stack is all there is.
  if (frames === -1) return error
  // Built by `Error` itself, with the subclass as new.target, so that the copy is a native
  // error (`util.types.isNativeError`, `[object Error]`): error trackers (Sentry and the like)
  // treat anything else as a plain object. Its own fields (code, name, message, cause, a
  // subclass's timeout or status) are then the original's.
  const copy = Reflect.construct(Error, [], error.constructor) as ExoRelayError
  Object.defineProperties(copy, Object.getOwnPropertyDescriptors(error))
  Object.defineProperty(copy, 'stack', {
    value: `${error.name}: ${error.message}${stack.slice(frames)}`,
    writable: true,
    configurable: true,
  })
  return copy as E
}

// How V8 writes a frame of an async function waiting in an await.
const ASYNC_FRAME = '\n    at async '

/**
 * The reply of a send as a promise that the relay's `stackTraces: 'await'` (the default) hands
 * to its SentMessage: an async function, so that an ExoRelay error it rethrows gets the frames
 * of the code awaiting the send from V8's async stack traces (`at async handler (app.ts:12)`)
 * without capturing a stack per send. Only a failure pays: one capture, then. Code that observes the send
 * through `.then()` or a callback has no async frames to show, and keeps the error as made.
 */
export async function fromAwaitSite<T>(reply: Promise<T>): Promise<T> {
  try {
    return await reply
  } catch (error) {
    if (!(error instanceof ExoRelayError)) throw error
    const site: CallSite = {}
    Error.captureStackTrace(site, fromAwaitSite)
    // Nobody awaits it yet (a send that failed before its caller got to `await` has the
    // caller's stack already), or it is observed through `.then()`: the error stays as made.
    if (!site.stack?.includes(ASYNC_FRAME)) throw error
    throw atCallSite(error, site)
  }
}
