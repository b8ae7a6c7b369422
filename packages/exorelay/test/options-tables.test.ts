import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { repositoryRoot } from './doc-examples.js'

// The option tables of docs/reference/ are kept in step with the option types, both ways, as
// errors-doc.test.ts keeps the errors table in step with the codes: every property of each
// options type has a row and every row is a property, with the declared type, and with the
// default its TSDoc `@default` tag gives (the one source of defaults; a property without one
// is `required` or has `none`). Another option, or a changed type or default, fails here until
// the table says so.

interface OptionsTable {
  /** The options type, as its package exports it. */
  readonly type: string
  /** The package's entry point, relative to the repository root. */
  readonly entry: string
  /** The reference page with the table. */
  readonly document: string
  /** The heading the table follows (the first table after it). */
  readonly heading: string
}

export const optionsTables: readonly OptionsTable[] = [
  {
    type: 'ExoRelayOptions',
    entry: 'packages/exorelay/src/index.ts',
    document: 'docs/reference/exorelay.md',
    heading: '## `new ExoRelay<Messages>(options?)`',
  },
  {
    type: 'StandaloneListenerOptions',
    entry: 'packages/fastify-listener/src/index.ts',
    document: 'docs/reference/fastify-listener.md',
    heading: '## `new StandaloneListener(options?)`',
  },
  {
    type: 'ListenerRoutesOptions',
    entry: 'packages/fastify-listener/src/index.ts',
    document: 'docs/reference/fastify-listener.md',
    heading: '## `app.register(exoRelayRoutes, options)`',
  },
  {
    type: 'UndiciSenderOptions',
    entry: 'packages/undici-sender/src/index.ts',
    document: 'docs/reference/undici-sender.md',
    heading: '## `new UndiciSender(options)`',
  },
  {
    type: 'ExoComOptions',
    entry: 'packages/exocom/src/index.ts',
    document: 'docs/reference/exocom.md',
    heading: '## `startExoCom(options?)`',
  },
  {
    type: 'NatsTransportOptions',
    entry: 'packages/nats-transport/src/index.ts',
    document: 'docs/reference/nats-transport.md',
    heading: '## `natsTransport(options)`',
  },
  {
    type: 'StartLandscapeOptions',
    entry: 'packages/exoservice/src/index.ts',
    document: 'docs/reference/exoservice.md',
    heading: '## `startLandscape(options)`',
  },
  {
    type: 'LineWriterOptions',
    entry: 'packages/exoservice/src/index.ts',
    document: 'docs/reference/exoservice.md',
    heading: '## Output of a landscape',
  },
]

/** One property of an options type, as the table should show it. */
export interface DeclaredOption {
  readonly name: string
  readonly type: string
  readonly optional: boolean
  /** The text of its TSDoc `@default` tag. */
  readonly default: string | undefined
}

/** Whitespace collapsed, so that a wrapped type or tag compares equal to a table cell. */
const collapse = (text: string) => text.replace(/\s+/g, ' ').trim()

/**
 * A declared type as a table shows it: `| undefined` of an optional property left out (it
 * says the same as "optional"), and parentheses around the whole dropped.
 */
export function typeText(declared: string, optional: boolean): string {
  let text = collapse(declared)
  if (optional) text = text.replace(/\s*\|\s*undefined$/, '')
  while (text.startsWith('(') && closingParen(text) === text.length - 1) text = text.slice(1, -1)
  return text
}

function closingParen(text: string): number {
  let depth = 0
  for (let index = 0; index < text.length; index++) {
    if (text[index] === '(') depth++
    if (text[index] === ')' && --depth === 0) return index
  }
  return -1
}

/** The properties of every table's options type, read with the compiler from the sources. */
export function declaredOptions(): Map<string, DeclaredOption[]> {
  const root = fileURLToPath(repositoryRoot)
  const configFile = ts.readConfigFile(`${root}tsconfig.base.json`, (path) => ts.sys.readFile(path))
  const { options } = ts.parseJsonConfigFileContent(configFile.config, ts.sys, root)
  const entries = [...new Set(optionsTables.map((table) => `${root}${table.entry}`))]
  const program = ts.createProgram(entries, { ...options, noEmit: true })
  const checker = program.getTypeChecker()
  const byType = new Map<string, DeclaredOption[]>()
  for (const table of optionsTables) {
    const source = program.getSourceFile(`${root}${table.entry}`)
    assert.ok(source, `${table.entry} not found`)
    const exported = checker
      .getExportsOfModule(checker.getSymbolAtLocation(source)!)
      .find((symbol) => symbol.name === table.type)
    assert.ok(exported, `${table.entry} does not export ${table.type}`)
    const symbol =
      exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported
    const properties = checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(symbol))
    byType.set(
      table.type,
      properties.map((property) => {
        const declaration = property.valueDeclaration
        assert.ok(declaration && ts.isPropertySignature(declaration) && declaration.type)
        const optional = declaration.questionToken !== undefined
        const tag = ts.getJSDocTags(declaration).find((each) => each.tagName.text === 'default')
        return {
          name: property.name,
          type: typeText(declaration.type.getText(), optional),
          optional,
          default: tag && collapse(ts.getTextOfJSDocComment(tag.comment) ?? ''),
        }
      }),
    )
  }
  return byType
}

/** The rows of the first table after `heading`, as objects keyed by the header's cells. */
export function tableAfter(text: string, heading: string): Record<string, string>[] {
  const lines = text.split('\n')
  const start = lines.indexOf(heading)
  assert.ok(start >= 0, `no heading ${heading}`)
  const first = lines.findIndex((line, index) => index > start && line.startsWith('|'))
  assert.ok(first > start, `no table after ${heading}`)
  const rows: string[][] = []
  for (let index = first; lines[index]?.startsWith('|'); index++) {
    // Cells split on `|` that is not escaped as `\|` (a union in a type cell).
    rows.push(
      lines[index]!.slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim().replaceAll('\\|', '|')),
    )
  }
  const [header = [], , ...body] = rows
  return body.map((cells) =>
    Object.fromEntries(header.map((name, index) => [name, cells[index] ?? ''])),
  )
}

/** A table cell's code: `a` → a; several code spans and words stay as written. */
const unquote = (cell: string) => (/^`[^`]*`$/.test(cell) ? cell.slice(1, -1) : cell)

const declared = declaredOptions()

test('a type is shown as declared, without the `| undefined` of an optional property', () => {
  assert.equal(typeText('string | undefined', true), 'string')
  assert.equal(
    typeText('(() => Record<string, unknown>) | undefined', true),
    '() => Record<string, unknown>',
  )
  assert.equal(typeText('(() => void) | (() => number)', false), '(() => void) | (() => number)')
  assert.equal(
    typeText('Record<string,\n   string | undefined>', false),
    'Record<string, string | undefined>',
  )
})

test('the table parser keeps an escaped | inside a cell', () => {
  const rows = tableAfter(
    ['## x', '', '| option | type |', '| --- | --- |', '| `port` | `number \\| string` |', ''].join(
      '\n',
    ),
    '## x',
  )
  assert.deepEqual(rows, [{ option: '`port`', type: '`number | string`' }])
})

for (const table of optionsTables) {
  describe(`${table.document}: ${table.type}`, () => {
    const options = declared.get(table.type) ?? []
    const rows = tableAfter(
      readFileSync(new URL(table.document, repositoryRoot), 'utf8'),
      table.heading,
    )
    const byName = new Map(rows.map((row) => [unquote(row.option ?? ''), row]))

    test('every option has a row and every row is an option', () => {
      assert.deepEqual(
        [...byName.keys()].sort(),
        options.map((option) => option.name).sort(),
        `the table after "${table.heading}" must list exactly the properties of ${table.type}`,
      )
    })

    test('each row shows the declared type and the @default of the TSDoc', () => {
      for (const option of options) {
        const row = byName.get(option.name)
        if (row === undefined) continue
        assert.equal(unquote(row.type ?? ''), option.type, `${table.type}.${option.name}: type`)
        const shown = row.default ?? ''
        if (option.default !== undefined) {
          assert.equal(
            shown,
            option.default,
            `${table.type}.${option.name}: the @default of its TSDoc`,
          )
        } else {
          assert.match(
            shown,
            option.optional ? /^(none|required\b.*)$/ : /^required\b/,
            `${table.type}.${option.name} has no @default: the table says \`required\` or \`none\` (or give it a @default)`,
          )
        }
        assert.notEqual(row.meaning ?? '', '', `${table.type}.${option.name}: its meaning`)
      }
    })
  })
}

/** A command whose flags table a reference page keeps: the flags are the table's first column. */
const commandTables = [
  {
    bin: 'packages/exocom/bin/exocom.js',
    args: [],
    document: 'docs/reference/exocom.md',
    heading: '## `exocom [options]`',
  },
  ...['run [folder]', 'new <name>', 'landscape [file]', 'check [file]', 'asyncapi [file]'].map(
    (usage) => ({
      bin: 'packages/exoservice/bin/exoservice.js',
      args: [usage.split(' ')[0]!],
      document: 'docs/reference/exoservice.md',
      heading: `## \`exoservice ${usage} [options]\``,
    }),
  ),
  ...['send <name> [payload]', 'request <name> [payload]', 'routes', 'tail [pattern...]'].map(
    (usage) => ({
      bin: 'packages/exorelay/bin/exorelay.js',
      args: [usage.split(' ')[0]!],
      document: 'docs/reference/exorelay.md',
      heading: `## \`exorelay ${usage} [options]\``,
    }),
  ),
]

for (const command of commandTables) {
  const name = [basename(command.bin, '.js'), ...command.args].join(' ')
  describe(`${command.document}: the ${name} command`, () => {
    test(`the flags table lists exactly the flags \`${name} --help\` shows`, () => {
      const bin = fileURLToPath(new URL(command.bin, repositoryRoot))
      const usage = execFileSync(process.execPath, [bin, ...command.args, '--help'], {
        encoding: 'utf8',
        timeout: 20_000,
      })
      const flagsOf = (text: string) =>
        [...text.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)].map(([flag]) => flag)
      const options = usage.slice(usage.indexOf('Options:'))
      const shown = [
        ...new Set(
          options.split('\n').flatMap((line) => flagsOf(line.trim().split('  ')[0] ?? '')),
        ),
      ]
      const rows = tableAfter(
        readFileSync(new URL(command.document, repositoryRoot), 'utf8'),
        command.heading,
      )
      const listed = rows.flatMap((row) => flagsOf(Object.values(row)[0] ?? ''))
      assert.deepEqual(listed.sort(), shown.sort())
    })
  })
}
