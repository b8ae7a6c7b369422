import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import ts from 'typescript'

export interface ReportOptions {
  /** The package folder: its `package.json` names the package and its `exports['.'].types`. */
  packageDir: string
}

const TOP_LEVEL =
  ts.SymbolFlags.Class |
  ts.SymbolFlags.Interface |
  ts.SymbolFlags.TypeAlias |
  ts.SymbolFlags.Enum |
  ts.SymbolFlags.Variable |
  ts.SymbolFlags.Function |
  ts.SymbolFlags.Module

interface PackageJson {
  name?: string
  exports?: unknown
  types?: string
}

function readPackageJson(dir: string): PackageJson {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson
}

/** The declaration file of the package's main entry: `exports['.'].types`, else `types`. */
export function entryOf(packageDir: string): string {
  const pkg = readPackageJson(packageDir)
  const main = (pkg.exports as Record<string, unknown> | undefined)?.['.']
  const types =
    typeof main === 'object' && main !== null ? (main as Record<string, unknown>).types : pkg.types
  if (typeof types !== 'string') {
    throw new Error(`${join(packageDir, 'package.json')} names no types for its '.' entry.`)
  }
  return join(packageDir, types)
}

// The name of the package a file belongs to: the nearest package.json above it.
function packageNameOf(file: string): string {
  let dir = dirname(file)
  while (dir !== dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) {
      return readPackageJson(dir).name ?? relative(process.cwd(), dir)
    }
    dir = dirname(dir)
  }
  return file
}

/**
 * The public API of a package as Markdown: every export of its main entry with its declaration
 * as TypeScript prints it (comments dropped, sorted by exported name), then the declarations of
 * the package that those exports use without exporting them. Exports declared in another
 * package (a facade re-exporting core) appear as a re-export line, as api-extractor shows them:
 * that package's report covers their shape.
 */
export function apiReport({ packageDir }: ReportOptions): string {
  const root = realpathSync(packageDir)
  const entry = entryOf(root)
  if (!existsSync(entry)) {
    throw new Error(`${entry} does not exist: build the package first (npx turbo run build).`)
  }
  const program = ts.createProgram([entry], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2023,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  })
  const checker = program.getTypeChecker()
  const source = program.getSourceFile(entry)
  const moduleSymbol = source && checker.getSymbolAtLocation(source)
  if (!moduleSymbol) throw new Error(`${entry} is not a module.`)
  const printer = ts.createPrinter({ removeComments: true, newLine: ts.NewLineKind.LineFeed })

  const ownFile = (file: string): boolean => {
    const path = realpathSync(file)
    return path.startsWith(root + sep) && !path.includes(`${sep}node_modules${sep}`)
  }
  const resolve = (symbol: ts.Symbol): ts.Symbol =>
    symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol
  // Variables print as their whole statement (`export declare const x: …`).
  const printable = (declaration: ts.Declaration): ts.Node =>
    ts.isVariableDeclaration(declaration) ? declaration.parent.parent : declaration
  const print = (node: ts.Node): string =>
    printer.printNode(ts.EmitHint.Unspecified, node, node.getSourceFile()).trim()

  // A sibling's `./internal` entry is for the monorepo only (decision 0012): a public
  // declaration that uses one would hand users a type they cannot rely on.
  for (const file of program.getSourceFiles()) {
    if (!ownFile(file.fileName)) continue
    const internal = internalImports(file)
    if (internal.length > 0) {
      const where = relative(root, realpathSync(file.fileName)).split(sep).join('/')
      throw new Error(
        `${where} imports ${internal.map((s) => `'${s}'`).join(', ')}: a public declaration ` +
          'must not use an internal entry. Export the type from the public entry instead.',
      )
    }
  }

  const exported = new Set<ts.Symbol>()
  const used = new Set<ts.Symbol>()
  const queue: ts.Declaration[] = []
  const entries: string[] = []

  const exports = checker
    .getExportsOfModule(moduleSymbol)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  for (const symbol of exports) exported.add(resolve(symbol))

  for (const symbol of exports) {
    const target = resolve(symbol)
    const declarations = target.declarations ?? []
    const typeOnly = (symbol.declarations ?? []).some(
      (d) => ts.isExportSpecifier(d) && (d.isTypeOnly || d.parent.parent.isTypeOnly),
    )
    const keyword = typeOnly ? 'export type' : 'export'
    const name = target.name === symbol.name ? symbol.name : `${target.name} as ${symbol.name}`
    const external = declarations.find((d) => !ownFile(d.getSourceFile().fileName))
    if (external) {
      const from = packageNameOf(realpathSync(external.getSourceFile().fileName))
      entries.push(`${keyword} { ${name} } from '${from}'`)
      continue
    }
    const text = declarations.map((d) => print(printable(d)))
    entries.push([`// ${keyword} { ${name} }`, ...text].join('\n'))
    queue.push(...declarations)
  }

  // The package's own top-level declarations that exported ones refer to without being
  // exported themselves (api-extractor's "forgotten exports"): a change to them changes the
  // public surface too.
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node)) {
      const symbol = checker.getSymbolAtLocation(node)
      const target = symbol && resolve(symbol)
      if (
        target &&
        target.flags & TOP_LEVEL &&
        !exported.has(target) &&
        !used.has(target) &&
        (target.declarations ?? []).some(
          (d) => ownFile(d.getSourceFile().fileName) && isTopLevel(d),
        )
      ) {
        used.add(target)
        queue.push(...(target.declarations ?? []))
      }
    }
    ts.forEachChild(node, visit)
  }
  for (let i = 0; i < queue.length; i++) visit(printable(queue[i]!))

  const unexported = [...used]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((symbol) => {
      // Only the package's own declarations: of another package's interface it augments
      // (`declare module 'fastify' { interface FastifyInstance { … } }`), the augmentation is
      // its surface, not the whole interface, which changes with every release of the other.
      const own = (symbol.declarations ?? []).filter((d) => ownFile(d.getSourceFile().fileName))
      const file = relative(root, realpathSync(own[0]!.getSourceFile().fileName))
      const augmented = augmentedModuleOf(own[0]!)
      const where = augmented === undefined ? 'not exported' : `augments '${augmented}'`
      const text = own.map((d) => {
        const printed = print(printable(d))
        const module = augmentedModuleOf(d)
        if (module === undefined) return printed
        return `declare module '${module}' {\n${printed.replace(/^/gm, '    ')}\n}`
      })
      return [`// ${symbol.name} (${file.split(sep).join('/')}, ${where})`, ...text].join('\n')
    })

  const name = readPackageJson(root).name ?? root
  const lines = [
    `# API report: ${name}`,
    '',
    `The public surface of \`${name}\`: every export of its main entry, printed from the built`,
    'declarations. Generated: `npm run api:update` rewrites it, `npm test` fails when it is stale.',
    '',
    '```ts',
    entries.join('\n\n'),
    '```',
  ]
  if (unexported.length > 0) {
    lines.push(
      '',
      '## Used by the exports, not exported',
      '',
      '```ts',
      unexported.join('\n\n'),
      '```',
    )
  }
  return `${lines.join('\n')}\n`
}

/** The module a declaration augments (`declare module 'fastify' { … }`), if it is in one. */
function augmentedModuleOf(declaration: ts.Declaration): string | undefined {
  const block = declaration.parent
  if (!ts.isModuleBlock(block)) return undefined
  const name = block.parent.name
  return ts.isStringLiteral(name) ? name.text : undefined
}

function isTopLevel(declaration: ts.Declaration): boolean {
  const node = ts.isVariableDeclaration(declaration) ? declaration.parent.parent : declaration
  return ts.isSourceFile(node.parent) || ts.isModuleBlock(node.parent)
}

const INTERNAL_ENTRY = /^(@[^/]+\/)?[^/.][^/]*\/internal(\.js)?$/

// The module specifiers of another package's `internal` entry that a declaration file uses:
// `import … from`, `export … from` and `import('…')` types.
function internalImports(file: ts.SourceFile): string[] {
  const found: string[] = []
  const visit = (node: ts.Node): void => {
    let specifier: ts.Node | undefined
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) {
      specifier = node.moduleSpecifier
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      specifier = node.argument.literal
    }
    if (specifier && ts.isStringLiteral(specifier) && INTERNAL_ENTRY.test(specifier.text)) {
      found.push(specifier.text)
    }
    ts.forEachChild(node, visit)
  }
  visit(file)
  return found
}
