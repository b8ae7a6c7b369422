import { readFileSync } from 'node:fs'

/** The repository root, where the README and docs/ are. */
export const repositoryRoot = new URL('../../../', import.meta.url)

/** The code of every fenced block in `language` (`ts`, `js`) of a document under the root. */
export function codeBlocks(document: string, language: 'ts' | 'js'): string[] {
  const text = readFileSync(new URL(document, repositoryRoot), 'utf8')
  const fence = new RegExp(`^\`\`\`${language}\\n([\\s\\S]*?)^\`\`\`$`, 'gm')
  return [...text.matchAll(fence)].map((match) => match[1]!)
}
