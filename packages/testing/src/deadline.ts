/**
 * `promise`, or a rejection once `timeout` milliseconds pass first, saying what was awaited:
 * a wait in a test that can fail, never one that hangs the run. The timer never keeps the
 * process alive by itself, and is cleared as soon as the promise settles.
 *
 * @example
 * ```ts
 * const [code] = await withDeadline(once(child, 'exit'), 10_000, () => 'the bus did not exit')
 * ```
 */
export async function withDeadline<T>(
  promise: Promise<T>,
  timeout: number,
  describe: () => string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${describe()} within ${timeout} ms`)), timeout)
    timer.unref()
  })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * A promise and the function that resolves it: for a handler to hand a value out to the test
 * that awaits it (with {@link withDeadline}).
 *
 * @example
 * ```ts
 * const seen = deferred<string>()
 * relay.registerHandler('users.create', (_user, ctx) => seen.resolve(ctx.id))
 * const id = await withDeadline(seen.promise, 5_000, () => 'users.create was not handled')
 * ```
 */
export function deferred<T>(): {
  /** Settles when `resolve` is called. */
  promise: Promise<T>
  /** Resolves `promise` with `value`. */
  resolve: (value: T) => void
} {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((res) => {
    resolve = res
  })
  return { promise, resolve }
}
