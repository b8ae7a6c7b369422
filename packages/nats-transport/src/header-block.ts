import type { Msg, MsgHdrs } from '@nats-io/transport-node'

/** What the transport reads of a received message's headers: nats.js's `MsgHdrs` has it too. */
export type HeaderReader = Pick<MsgHdrs, 'code' | 'get' | 'values'>

/** What nats.js 3 keeps of a message off the wire: the bytes, and where its headers end. */
interface WireMsg {
  readonly _rdata?: unknown
  readonly _msg?: { readonly hdr?: unknown }
}

const READ = Symbol('exorelay.headers')
const HEADER_LINE = 'NATS/1.0'
const decoder = new TextDecoder()

/**
 * The headers of `msg`, read from its header block as nats.js reads them (`MsgHdrsImpl.decode`),
 * into a small reader instead of a `MsgHdrs` (a Map of canonical keys, each checked twice):
 * that was about a tenth of an answering service's CPU. A message nats.js did not make off the
 * wire (no header block to see) gets `msg.headers`. `undefined` without headers. Throws, as
 * nats.js does, for a header name with a character outside 33-126 or a value with a line
 * break; read once per message.
 */
export function readHeaders(msg: Msg): HeaderReader | undefined {
  const wire = msg as unknown as WireMsg & { [READ]?: HeaderReader }
  const end = wire._msg?.hdr
  // Most replies have no header block at all.
  if (end === -1) return undefined
  const cached = wire[READ]
  if (cached !== undefined) return cached
  const data = wire._rdata
  if (!(data instanceof Uint8Array) || typeof end !== 'number') return msg.headers
  const read = readHeaderBlock(data.subarray(0, end))
  Object.defineProperty(wire, READ, { value: read })
  return read
}

/** A header block (`NATS/1.0[ code]\r\nName: value\r\n…\r\n\r\n`) as nats.js reads it. */
export function readHeaderBlock(block: Uint8Array): HeaderReader {
  const lines = decoder.decode(block).split('\r\n')
  let code = 0
  const first = lines[0] ?? ''
  if (first !== HEADER_LINE) {
    const status = first.replace(HEADER_LINE, '').trim()
    if (status !== '') code = Number.parseInt(status, 10) || 0
  }
  const names: string[] = []
  const values: string[] = []
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!
    const colon = line.indexOf(':')
    if (line === '' || colon === -1) continue
    const name = line.slice(0, colon)
    for (let c = 0; c < name.length; c++) {
      const unit = name.charCodeAt(c)
      if (unit < 33 || unit > 126) {
        throw new Error(`'${name[c]}' is not a valid character in a header name`)
      }
    }
    const value = line.slice(colon + 1).trim()
    if (/[\r\n]/.test(value)) throw new Error('header values cannot contain \\r or \\n')
    names.push(name)
    values.push(value)
  }
  return new HeaderBlock(code, names, values)
}

/** The headers of one block, by exact name, in order, as `MsgHdrs` gives them by default. */
class HeaderBlock implements HeaderReader {
  constructor(
    readonly code: number,
    readonly names: readonly string[],
    readonly headerValues: readonly string[],
  ) {}

  get(name: string): string {
    const index = this.names.indexOf(name)
    return index === -1 ? '' : this.headerValues[index]!
  }

  values(name: string): string[] {
    const values: string[] = []
    for (let i = 0; i < this.names.length; i++)
      if (this.names[i] === name) values.push(this.headerValues[i]!)
    return values
  }
}
