import { fileURLToPath } from 'node:url'
import {
  BUS_NAME,
  checkLandscape,
  createLineWriter,
  describeExit,
  formatFindings,
  isExoServiceError,
  type Landscape,
  loadLandscapeContracts,
  type OutputLine,
  readApplicationFile,
  startLandscape,
  stopOnSignals,
} from 'exoservice'
import pretty from 'pino-pretty'
import { spanOf } from './span-lines.js'
import { TraceTrees } from './trace-trees.js'

// The example landscape, run by exoservice's landscape runner from ../application.yml: the bus
// and the three services, one process each. What this file adds to `exoservice landscape` is
// the example's own: a banner that says where the API is, and, with
// OTEL_TRACES_EXPORTER=console, one tree per trace. It is a command-line program, so it writes
// to the console directly.

const applicationFile = fileURLToPath(new URL('../../application.yml', import.meta.url))
/** The name the trace trees are printed under. */
const TRACE = 'trace'
/** Loaded into each service with OTEL_TRACES_EXPORTER=console: it prints the spans. */
const tracePreload = new URL('./trace-to-console.ts', import.meta.url).href

/** Writes a line prefixed with its process's name, padded to the longest of `names`. */
function lineWriter(names: string[]): (line: OutputLine) => void {
  const terminal = process.stdout.isTTY === true
  return createLineWriter({
    pretty: terminal,
    colors: terminal && pretty.isColorSupported,
    nameWidth: Math.max(...names.map((name) => name.length)),
    write: (text) => process.stdout.write(text),
  })
}

function say(message: string): void {
  process.stdout.write(`${message}\n`)
}

function complain(message: string): void {
  process.stderr.write(`landscape: ${message}\n`)
}

/**
 * `OTEL_TRACES_EXPORTER=console`, OpenTelemetry's own variable, makes every service trace and
 * print its spans, which this launcher draws as one tree per trace.
 */
function tracesToConsole(): boolean {
  const exporter = process.env.OTEL_TRACES_EXPORTER
  if (exporter === undefined || exporter === '' || exporter === 'none') return false
  if (exporter === 'console') return true
  // Often set in an OpenTelemetry user's shell for other programs: worth a word, not a stop.
  complain(
    `OTEL_TRACES_EXPORTER=${exporter} is ignored: the example landscape prints traces to the console only (OTEL_TRACES_EXPORTER=console); it runs without traces.`,
  )
  return false
}

/** The error's sentence; for a web port that was taken, with the variable that moves it. */
function startFailure(error: Error): string {
  const busy = error.message.startsWith('web ') && /ADDRESS_IN_USE|EADDRINUSE/.test(error.message)
  return busy
    ? `${error.message} Another program holds the API's port: choose a free one, e.g. PORT=8080 npm start`
    : error.message
}

async function main(): Promise<number> {
  let names: string[]
  try {
    // Read here too, for the width of the names: the lines line up from the first one on.
    const application = await readApplicationFile(applicationFile)
    names = application.services.map(({ name }) => name)
    // The contracts checked before anything starts, as `exoservice landscape` does: what no
    // service receives, and services that disagree on a message, are said first.
    const landscape = await loadLandscapeContracts(application)
    const findings = checkLandscape(landscape)
    const summary = formatFindings(findings, landscape.services.length).trimEnd()
    if (findings.length === 0) say(`landscape check: ${summary}`)
    else complain(`landscape check:\n${summary}; starting anyway`)
  } catch (error) {
    if (!isExoServiceError(error)) throw error
    complain(error.message)
    return 1
  }
  const writeLine = lineWriter([BUS_NAME, TRACE, ...names])
  const traces = tracesToConsole()
    ? new TraceTrees({
        // One write, so that a tree is never split by another child's line.
        print: (lines) =>
          writeLine({
            service: TRACE,
            text: lines.join('\n'),
            record: undefined,
            stream: 'stdout',
          }),
      })
    : undefined
  /** A child's line: a span goes to its trace's tree, anything else to the console. */
  const onLine = (line: OutputLine): void => {
    const span = spanOf(line.record)
    if (traces !== undefined && span !== undefined) traces.add(line.service, span)
    else writeLine(line)
  }

  // The first signal stops the landscape (or its start); a second one kills at once.
  const signals = stopOnSignals({ onStop: (signal) => say(`landscape: ${signal}: stopping`) })
  try {
    let landscape: Landscape
    try {
      landscape = await startLandscape({
        file: applicationFile,
        onLine,
        // The services trace when their process loads the preload first, as OpenTelemetry's
        // Node.js set-ups do: their own code stays as it is. The preload is TypeScript: tsx first.
        nodeOptions: traces === undefined ? [] : ['--import', 'tsx', '--import', tracePreload],
        signal: signals.signal,
      })
    } catch (error) {
      if (error === signals.signal.reason) {
        say('landscape: stopped')
        return 0
      }
      if (!isExoServiceError(error)) throw error
      complain(startFailure(error))
      return 1
    }
    signals.attach(landscape)

    const web = landscape.services.find(({ name }) => name === 'web')
    const api = `http://localhost:${web?.online.record?.port ?? process.env.PORT ?? 3000}`
    // One write, so that the banner is never split by a child's line.
    say(
      [
        '',
        'ExoRelay example landscape is running.',
        `  API:  ${api}`,
        `  Try:  curl -s -X POST ${api}/users -H 'content-type: application/json' -d '{"name":"Will Riker","password":"secret"}'`,
        `  Then: curl -s ${api}/users`,
        ...(landscape.busPort === undefined
          ? []
          : [
              `  Watch: http://localhost:${landscape.busPort}/ (the bus's live page), or EXOCOM_PORT=${landscape.busPort} npx exorelay tail`,
            ]),
        ...(traces === undefined
          ? []
          : [`  Traces: one tree per request, in the lines marked '${TRACE}'`]),
        'Press Ctrl-C to stop.',
        '',
      ].join('\n'),
    )

    const end = await landscape.stopped
    traces?.flush()
    if (end.reason === 'stopped') {
      say('landscape: stopped')
      return 0
    }
    const said = end.lastLines.length === 0 ? '' : `; its last line: ${end.lastLines.at(-1)}`
    complain(
      `${end.name} stopped unexpectedly: it ${describeExit(end.status)}${said}; stopped the others`,
    )
    return 1
  } finally {
    signals.dispose()
  }
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    complain(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    process.exitCode = 1
  },
)
