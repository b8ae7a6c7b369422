/**
 * What the compiler says when `send` is used against the message map: the hint travels in the
 * diagnostic's text, so it is checked there, by compiling a snippet with the TypeScript API.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const here = fileURLToPath(new URL('.', import.meta.url))
const snippetPath = `${here}send-types.snippet.ts`

/** The compiler's messages for `code`, compiled as a file of this folder with the package's settings. */
function diagnosticsOf(code: string): string[] {
  const configPath = fileURLToPath(new URL('../tsconfig.json', import.meta.url))
  const config = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'))
      },
    },
  )
  assert.ok(config)
  const host = ts.createCompilerHost(config.options)
  const readFile = host.readFile
  host.readFile = (path) => (path === snippetPath ? code : readFile.call(host, path))
  const fileExists = host.fileExists
  host.fileExists = (path) => path === snippetPath || fileExists.call(host, path)
  const program = ts.createProgram([snippetPath], { ...config.options, noEmit: true }, host)
  return ts
    .getPreEmitDiagnostics(program, program.getSourceFile(snippetPath))
    .map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'))
}

const MESSAGES = `
import { MemoryBus } from '../src/memory-transport.js'
import { Relay } from '../src/relay.js'
type Messages = {
  'users.create': { payload: { name: string }; replies: { 'users.created': { id: number } } }
  'users.touch': { payload: { id: number } }
}
const web = new Relay<Messages>({ serviceName: 'web', transport: new MemoryBus().transport() })
`

test("awaiting a message that declares no reply: the compiler's message says to send it with { reply: false }", () => {
  const messages = diagnosticsOf(
    `${MESSAGES}\nexport async function f() { await web.send('users.touch', { id: 1 }) }\n`,
  )
  assert.equal(messages.length, 1, messages.join('\n---\n'))
  assert.match(
    messages[0] ?? '',
    /'users\.touch' declares no reply: send it with \{ reply: false \}/,
  )
})

test('the same snippet sent with { reply: false } compiles', () => {
  const messages = diagnosticsOf(
    `${MESSAGES}\nexport async function f() { await web.send('users.touch', { id: 1 }, { reply: false }) }\n`,
  )
  assert.deepEqual(messages, [])
})

for (const [how, call] of [
  ['sent with { reply: false }', "web.send('users.nope', {}, { reply: false })"],
  ['awaited', "web.send('users.nope', {})"],
]) {
  test(`a name the map lacks, ${how}: the compiler's message says it is not one of the map's names, with no reply hint`, () => {
    const messages = diagnosticsOf(`${MESSAGES}\nexport async function f() { await ${call} }\n`)
    assert.equal(messages.length, 1, messages.join('\n---\n'))
    // Each form of send says the same; TypeScript 7 prints only the last one's.
    assert.match(
      messages[0] ?? '',
      /'"users\.nope"' is not assignable to parameter of type 'MessageName<Messages>'/,
    )
    assert.doesNotMatch(messages[0] ?? '', /declares no reply/)
  })
}

test('awaiting a message that declares replies compiles, and no name that declares replies is said to declare none', () => {
  const messages = diagnosticsOf(
    `${MESSAGES}\nexport async function f() { const user = await web.send('users.create', { name: 'a' }); return user.id }\n`,
  )
  assert.deepEqual(messages, [])
})
