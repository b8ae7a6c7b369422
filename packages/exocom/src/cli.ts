#!/usr/bin/env node
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { parseArgs } from 'node:util'
import { checkPort, ErrorCodes, isExoRelayError } from '@exorelay/core'
import { checkToken, type ServiceRegistration } from '@exorelay/http-protocol'
import { DEFAULT_EXOCOM_PORT, type ExoCom, startExoCom } from './exocom.js'
import { checkCredentials, type ExoComCredentials } from './options.js'
import { validateServices } from './routing-table.js'

// The bin is the one place in this package that talks to the terminal directly.

const USAGE = `Usage: exocom [options]

Starts ExoCom, the message bus of ExoRelay services (ExoCom HTTP protocol).

Options:
  --port <n>         port to listen on (default: env PORT, then ${DEFAULT_EXOCOM_PORT}; 0 = any free port)
  --host <host>      interface to listen on (default: 127.0.0.1)
  --services <file>  JSON file with the routing table, as POST /services takes it
  --token <secret>   shared secret every request but GET /status must carry as
                     'authorization: Bearer <secret>' (default: env EXOCOM_TOKEN; none = open);
                     prefer the variable: arguments are visible to other local users
  --credentials <file>
                     identity mode: JSON file {"operator": "<token>", "services":
                     {"<service>": "<token>"}}, a token per service (default: env
                     EXOCOM_CREDENTIALS); not with --token. Keep the file readable
                     by the bus's user only
  --registration-addresses <connection|any>
                     identity mode: whether a service may register only the address
                     it connects from (default: connection); only with --credentials
  --event-preview <bytes>
                     show that many bytes of each payload's JSON in the event stream
                     (GET /events) (default: 0, no payloads: they may hold personal data)
  --no-events        no event stream: GET /events answers 404
  -h, --help         show this help
  -v, --version      show the version
`

/** Exit codes: 1 = could not start, 2 = wrong usage. */
async function main(): Promise<number> {
  let values: ReturnType<typeof parse>['values']
  try {
    values = parse().values
  } catch (error) {
    process.stderr.write(`exocom: ${(error as Error).message}\n\n${USAGE}`)
    return 2
  }
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  if (values.version) {
    const require = createRequire(import.meta.url)
    const { version } = require('../package.json') as { version: string }
    process.stdout.write(`${version}\n`)
    return 0
  }

  let port: number
  try {
    port = checkPort(values.port ?? (process.env.PORT || DEFAULT_EXOCOM_PORT))
  } catch (error) {
    const from = values.port === undefined ? 'the PORT environment variable' : '--port'
    process.stderr.write(`exocom: ${from}: ${(error as Error).message}\n\n${USAGE}`)
    return 2
  }

  let token: string | undefined
  try {
    // An empty variable counts as unset, as PORT does.
    token = checkToken(values.token ?? (process.env.EXOCOM_TOKEN || undefined), 'The token')
  } catch (error) {
    const from = values.token === undefined ? 'the EXOCOM_TOKEN environment variable' : '--token'
    process.stderr.write(`exocom: ${from}: ${(error as Error).message}\n\n${USAGE}`)
    return 2
  }

  // Read once, at start: a bus with other credentials is a restarted bus.
  const credentialsFile = values.credentials ?? (process.env.EXOCOM_CREDENTIALS || undefined)
  let credentials: ExoComCredentials | undefined
  if (credentialsFile !== undefined) {
    try {
      const text = await readFile(credentialsFile, 'utf8')
      let parsed: unknown
      try {
        parsed = JSON.parse(text)
      } catch {
        // The parser's message quotes the text, which holds tokens.
        throw new Error('it is not valid JSON.')
      }
      const checked = checkCredentials(parsed, 'the file')
      credentials = {
        services: Object.fromEntries(checked.services),
        ...(checked.operator !== undefined && { operator: checked.operator }),
      }
    } catch (error) {
      const { code, message, syscall } = error as NodeJS.ErrnoException
      // A system error's own text (`EISDIR: illegal operation on a directory, read`) is no
      // sentence for a person: each is said in words, the rest by its code.
      const reason =
        code === 'ENOENT'
          ? 'it does not exist.'
          : code === 'EACCES'
            ? 'it cannot be read (permission denied).'
            : code === 'EISDIR'
              ? 'it is a directory, not a file.'
              : syscall !== undefined
                ? `it cannot be read (${code ?? syscall}).`
                : message
      process.stderr.write(
        `exocom: cannot load the credentials file '${credentialsFile}': ${reason} It must be JSON of the shape {"operator": "<token>", "services": {"<service name>": "<token>"}}.\n`,
      )
      return 1
    }
  }

  let eventPreview: number | undefined
  if (values['event-preview'] !== undefined) {
    const text = values['event-preview']
    eventPreview = Number(text)
    if (text.trim() === '' || !Number.isSafeInteger(eventPreview) || eventPreview < 0) {
      process.stderr.write(
        `exocom: --event-preview must be a number of bytes, 0 or more, got '${text}'.\n\n${USAGE}`,
      )
      return 2
    }
  }

  let services: ServiceRegistration[] = []
  if (values.services !== undefined) {
    try {
      services = validateServices(JSON.parse(await readFile(values.services, 'utf8')))
    } catch (error) {
      process.stderr.write(
        `exocom: cannot load the services file '${values.services}': ${(error as Error).message}\n`,
      )
      return 1
    }
  }

  // Listened for before the bus starts: an orchestrator may stop it as soon as it reads the
  // start line, and a signal without a listener would end the process without a close.
  // `once`: a second Ctrl-C while closing falls back to Node's default and ends at once.
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  let exocom: ExoCom
  try {
    exocom = await startExoCom({
      port,
      services,
      token,
      credentials,
      ...(values['registration-addresses'] !== undefined && {
        registrationAddresses: values['registration-addresses'] as 'connection' | 'any',
      }),
      ...(values.host === undefined ? {} : { host: values.host }),
      ...(eventPreview !== undefined && { eventPreview }),
      ...(values['no-events'] === true && { events: false }),
    })
  } catch (error) {
    const code = isExoRelayError(error) ? ` (${error.code})` : ''
    // One line, the fix with the cause: a launcher that quotes the child's last line shows both.
    const fix = isExoRelayError(error, ErrorCodes.ADDRESS_IN_USE)
      ? ' Choose another port with --port <n> (or env PORT), or --port 0 for any free one.'
      : ''
    process.stderr.write(`exocom: ${(error as Error).message}${code}${fix}\n`)
    return 1
  }

  await stopped
  await exocom.close()
  return 0
}

function parse() {
  return parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      services: { type: 'string' },
      token: { type: 'string' },
      credentials: { type: 'string' },
      'registration-addresses': { type: 'string' },
      'event-preview': { type: 'string' },
      'no-events': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
    strict: true,
    allowPositionals: false,
  })
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`exocom: ${String(error)}\n`)
    process.exit(1)
  },
)
