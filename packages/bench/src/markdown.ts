/** How a Markdown table column is aligned. */
export type Alignment = 'left' | 'right'

/**
 * A Markdown table padded exactly as Biome formats one, so that `biome ci` stays clean after
 * the benchmark rewrites its results (the repository lints Markdown too).
 */
export function markdownTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  alignments: readonly Alignment[],
): string[] {
  const widths = headers.map((header, column) =>
    Math.max(3, width(header), ...rows.map((row) => width(row[column] ?? ''))),
  )
  const line = (cells: readonly string[]) =>
    `| ${cells
      .map((cell, column) => {
        const padding = ' '.repeat(widths[column]! - width(cell))
        return alignments[column] === 'right' ? padding + cell : cell + padding
      })
      .join(' | ')} |`
  const rule = `| ${widths
    .map((columnWidth, column) =>
      alignments[column] === 'right' ? `${'-'.repeat(columnWidth - 1)}:` : '-'.repeat(columnWidth),
    )
    .join(' | ')} |`
  return [line(headers), rule, ...rows.map((row) => line(headers.map((_, i) => row[i] ?? '')))]
}

// Code points, not UTF-16 units: what a reader (and Biome) counts as one character each.
function width(text: string): number {
  return [...text].length
}
