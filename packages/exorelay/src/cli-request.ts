import { DEFAULT_TIMEOUT, type ExoRelayError } from '@exorelay/core'
import { BUS_OPTIONS_USAGE, runCommand } from './cli-args.js'
import { MESSAGE_OPTIONS, MESSAGE_OPTIONS_USAGE, messageToSend } from './cli-message.js'

const USAGE = `Usage: exorelay request <name> [payload-json|-] [options]

Sends one message and waits for its reply; prints {"outcome": "<reply name>", "payload": ...}
as one line of JSON on stdout. A timeout, no receiver or the receiver's error exits 1.

Arguments:
  <name>             the message's name, e.g. users.create
  [payload-json|-]   the payload as JSON ('{"name": "Will"}'), or - to read it from stdin;
                     none: the message has no payload

Options:
  --timeout <ms>     milliseconds to wait for the reply (default: ${DEFAULT_TIMEOUT})
${MESSAGE_OPTIONS_USAGE}${BUS_OPTIONS_USAGE}
The reply comes back to a relay this command listens with on a free port of 127.0.0.1 (env
EXORELAY_HOST and EXORELAY_ADVERTISED_HOST when the bus runs on another machine).
`

/**
 * `exorelay request <name> [payload]`: a relay that listens on a free port (so that the reply
 * finds its way back) sends the message and prints the reply. Resolves with the exit code: 0
 * replied, 1 timeout, no receiver, the receiver's error or no bus, 2 wrong usage.
 */
export function requestCommand(args: string[]): Promise<number> {
  return runCommand('request', USAGE, args, MESSAGE_OPTIONS, async (parsed) => {
    const { name, payload, relay } = await messageToSend(parsed, DEFAULT_TIMEOUT)
    // A registration the bus refuses (a wrong token, another service's credential) is said
    // here: the reply could not find this relay, and the request would only time out.
    let refused: ExoRelayError | undefined
    relay.on('error', (error: ExoRelayError) => {
      refused ??= error
    })
    try {
      await relay.listen()
      if (refused !== undefined) throw refused
      const reply = await relay.send(name, payload).envelope()
      process.stdout.write(
        `${JSON.stringify({ outcome: reply.name, payload: reply.payload ?? null })}\n`,
      )
    } finally {
      await relay.close()
    }
    return 0
  })
}
