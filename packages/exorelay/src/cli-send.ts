import { DEFAULT_TIMEOUT } from '@exorelay/core'
import { BUS_OPTIONS_USAGE, runCommand } from './cli-args.js'
import { MESSAGE_OPTIONS, MESSAGE_OPTIONS_USAGE, messageToSend } from './cli-message.js'

const USAGE = `Usage: exorelay send <name> [payload-json|-] [options]

Sends one message without waiting for a reply (fire-and-forget); exits 0 once the bus
accepted it.

Arguments:
  <name>             the message's name, e.g. users.created
  [payload-json|-]   the payload as JSON ('{"id": 4}'), or - to read it from stdin;
                     none: the message has no payload

Options:
  --timeout <ms>     milliseconds the bus may take to accept it (default: ${DEFAULT_TIMEOUT})
${MESSAGE_OPTIONS_USAGE}${BUS_OPTIONS_USAGE}`

/**
 * `exorelay send <name> [payload]`: one message with `{ reply: false }` from a relay that does
 * not listen (no reply can come, so none needs a way back). Resolves with the exit code: 0
 * accepted, 1 the bus refused it or is not there, 2 wrong usage.
 */
export function sendCommand(args: string[]): Promise<number> {
  return runCommand('send', USAGE, args, MESSAGE_OPTIONS, async (parsed) => {
    const { name, payload, relay } = await messageToSend(parsed, DEFAULT_TIMEOUT)
    try {
      await relay.send(name, payload, { reply: false })
    } finally {
      await relay.close()
    }
    return 0
  })
}
