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
