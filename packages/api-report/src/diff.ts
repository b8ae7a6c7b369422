/**
 * A line diff of two reports: removed lines `- `, added `+ `, `context` unchanged lines around
 * each change and `…` for the rest. A plain LCS table is enough for reports of a few hundred
 * lines, and saves a dependency or a `diff` binary on the CI machine.
 */
export function lineDiff(before: string, after: string, context = 3): string {
  const a = before.split('\n')
  const b = after.split('\n')
  // Longest common subsequence table, from the end.
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () =>
    new Array<number>(b.length + 1).fill(0),
  )
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i]![j] =
        a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!)
    }
  }
  const ops: Array<[' ' | '-' | '+', string]> = []
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      ops.push([' ', a[i++]!])
      j++
    } else if (i < a.length && (j === b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      ops.push(['-', a[i++]!])
    } else {
      ops.push(['+', b[j++]!])
    }
  }
  const keep = ops.map(() => false)
  ops.forEach(([op], k) => {
    if (op === ' ') return
    for (let n = Math.max(0, k - context); n <= Math.min(ops.length - 1, k + context); n++) {
      keep[n] = true
    }
  })
  const out: string[] = []
  ops.forEach(([op, line], k) => {
    if (keep[k]) out.push(`${op} ${line}`)
    else if (k === 0 || keep[k - 1]) out.push('  …')
  })
  return out.join('\n')
}
