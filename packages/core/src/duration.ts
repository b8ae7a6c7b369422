/**
 * `850 ms`, `12.3 s`, `4 min 5 s`: a length of time as a log line says it to a person, e.g.
 * how long a bus was unreachable.
 */
export function formatDuration(ms: number): string {
  const rounded = Math.round(ms)
  if (rounded < 1_000) return `${rounded} ms`
  if (rounded < 60_000) return `${(rounded / 1_000).toFixed(1)} s`
  const seconds = Math.round(rounded / 1_000)
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`
}
