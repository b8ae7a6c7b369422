/**
 * How the bus reads a message body without parsing its payload: it walks the envelope's own
 * fields, and only steps over the payload, checking that it is well-formed JSON and keeping
 * the text the sender wrote. The bus never needs the payload as objects: it forwards it as it
 * came (decision 0028). Whatever the walk does not take (malformed JSON, a prototype key, a
 * body that is not an object or an array of objects, nesting past MAX_SCAN_DEPTH) it leaves to
 * the JSON parser the bus had before, so that each such body gets exactly the answer it got.
 */

/**
 * A payload as the sender wrote it: well-formed JSON text, never parsed. The bus writes it into
 * the body it forwards as it is.
 */
export class RawPayload {
  readonly json: string

  constructor(json: string) {
    this.json = json
  }
}

/**
 * Nesting of arrays and objects the walk follows. JSON.parse follows any nesting, but
 * JSON.stringify recurses and fails at a few thousand levels: the bus refused such a payload
 * because it could not write it again, and a receiver could not write back what it holds
 * either. Deeper payloads go to that old path, which still refuses them the same way.
 */
export const MAX_SCAN_DEPTH = 1000

/**
 * One envelope of a body, as the walk read it: the fields the ingress reads (parseEnvelope and
 * a batch entry's `name`), each as JSON.parse gives it, and the payload as its text. Keys the
 * protocol does not know are stepped over, as parseEnvelope ignores them.
 */
export class ScannedEnvelope {
  id: unknown = undefined
  name: unknown = undefined
  sender: unknown = undefined
  instance: unknown = undefined
  responseTo: unknown = undefined
  timeout: unknown = undefined
  traceparent: unknown = undefined
  tracestate: unknown = undefined
  /** `null` when the body says `null`: the protocol takes it as no payload. */
  payload: RawPayload | null | undefined = undefined
}

// The keys the walk tells apart, found by their length first: no key is cut out of the text
// but those with escapes, which are parsed.
const OTHER = 0
const ID = 1
const NAME = 2
const SENDER = 3
const INSTANCE = 4
const RESPONSE_TO = 5
const TIMEOUT = 6
const TRACEPARENT = 7
const TRACESTATE = 8
const PAYLOAD = 9
const PROTO = 10
const CONSTRUCTOR = 11
const PROTOTYPE = 12
const KEYS = [
  '',
  'id',
  'name',
  'sender',
  'instance',
  'responseTo',
  'timeout',
  'traceparent',
  'tracestate',
  'payload',
  '__proto__',
  'constructor',
  'prototype',
]

const FAILED = -1
// The containers being walked, innermost last. An object that is the value of a
// `constructor` key must have no `prototype` key, as secure-json-parse (Fastify's JSON parser)
// requires: `{"constructor": {"prototype": …}}` poisons a prototype where it is merged.
const ARRAY = 0
const OBJECT = 1
const CONSTRUCTOR_OBJECT = 2
// One stack for every walk: the walk is synchronous and never re-entered.
const STACK = new Uint8Array(MAX_SCAN_DEPTH)

const TAB = 0x09
const LF = 0x0a
const CR = 0x0d
const SPACE = 0x20
const QUOTE = 0x22
const COMMA = 0x2c
const PLUS = 0x2b
const MINUS = 0x2d
const DOT = 0x2e
const ZERO = 0x30
const NINE = 0x39
const COLON = 0x3a
const OPEN_ARRAY = 0x5b
const BACKSLASH = 0x5c
const CLOSE_ARRAY = 0x5d
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const UPPER_E = 0x45
const LOWER_E = 0x65
const LOWER_F = 0x66
const LOWER_N = 0x6e
const LOWER_T = 0x74
const LOWER_U = 0x75

// Inside a string, the characters that end a run of plain ones: its end, an escape, or a
// control character (which JSON does not allow raw). A native scan: a megabyte-long string
// is stepped over at memory speed.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what it looks for
const STRING_STOP = /["\\\u0000-\u001f]/g
const SHORT_RUN = 32

// Second results of the steps below, read right after each call (the walk is synchronous).
/** Whether the string just stepped over had an escape. */
let escaped = false
/** Where the walk of an envelope object ended. */
let envelopeEnd = 0
/** The kind an object would be as the value of the key just stepped over. */
let keyKind = OBJECT

/** A message body, read: one envelope's fields, or a batch's. */
export type ScannedBody = ScannedEnvelope | ScannedEnvelope[]

/**
 * Reads a `POST /send` body: an object (one message) or an array of objects (a batch, up to
 * `maxEntries`). Each object becomes its envelope fields as JSON.parse would give them (the
 * last of duplicate keys wins), except `payload`, which is a {@link RawPayload} (or `null`,
 * which the protocol takes as no payload). Returns `undefined` for anything else, malformed or
 * not: the caller parses it in full, which answers it as it always did.
 */
export function scanMessageBody(text: string, maxEntries: number): ScannedBody | undefined {
  let index = skipSpace(text, 0)
  let body: ScannedBody | undefined
  const first = text.charCodeAt(index)
  if (first === OPEN_OBJECT) {
    body = scanEnvelope(text, index)
    index = envelopeEnd
  } else if (first === OPEN_ARRAY) {
    const entries: ScannedEnvelope[] = []
    index = skipSpace(text, index + 1)
    if (text.charCodeAt(index) === CLOSE_ARRAY) index++
    else {
      for (;;) {
        if (text.charCodeAt(index) !== OPEN_OBJECT || entries.length === maxEntries) {
          return undefined
        }
        const entry = scanEnvelope(text, index)
        if (entry === undefined) return undefined
        entries.push(entry)
        index = skipSpace(text, envelopeEnd)
        const next = text.charCodeAt(index)
        if (next === CLOSE_ARRAY) {
          index++
          break
        }
        if (next !== COMMA) return undefined
        index = skipSpace(text, index + 1)
      }
    }
    body = entries
  }
  if (body === undefined || skipSpace(text, index) !== text.length) return undefined
  return body
}

/** The envelope object at `start` (its `{`); sets `envelopeEnd`. */
function scanEnvelope(text: string, start: number): ScannedEnvelope | undefined {
  const fields = new ScannedEnvelope()
  let index = skipSpace(text, start + 1)
  if (text.charCodeAt(index) === CLOSE_OBJECT) {
    envelopeEnd = index + 1
    return fields
  }
  for (;;) {
    if (text.charCodeAt(index) !== QUOTE) return undefined
    const keyEnd = skipString(text, index)
    if (keyEnd === FAILED) return undefined
    const key = keyOf(text, index, keyEnd)
    if (key === PROTO) return undefined
    index = skipSpace(text, keyEnd)
    if (text.charCodeAt(index) !== COLON) return undefined
    const valueStart = skipSpace(text, index + 1)
    const valueEnd = skipValue(text, valueStart, key === CONSTRUCTOR)
    if (valueEnd === FAILED) return undefined
    if (key === PAYLOAD) {
      const json = text.slice(valueStart, valueEnd)
      fields.payload = json === 'null' ? null : new RawPayload(json)
    } else if (key !== OTHER && key < PAYLOAD) {
      // A string without escapes (the usual id or name) is cut out; the rest is small: parsed.
      const value =
        text.charCodeAt(valueStart) === QUOTE && !escaped
          ? text.slice(valueStart + 1, valueEnd - 1)
          : JSON.parse(text.slice(valueStart, valueEnd))
      setField(fields, key, value)
    }
    index = skipSpace(text, valueEnd)
    const next = text.charCodeAt(index)
    if (next === CLOSE_OBJECT) {
      envelopeEnd = index + 1
      return fields
    }
    if (next !== COMMA) return undefined
    index = skipSpace(text, index + 1)
  }
}

function setField(fields: ScannedEnvelope, key: number, value: unknown): void {
  switch (key) {
    case ID:
      fields.id = value
      break
    case NAME:
      fields.name = value
      break
    case SENDER:
      fields.sender = value
      break
    case INSTANCE:
      fields.instance = value
      break
    case RESPONSE_TO:
      fields.responseTo = value
      break
    case TIMEOUT:
      fields.timeout = value
      break
    case TRACEPARENT:
      fields.traceparent = value
      break
    case TRACESTATE:
      fields.tracestate = value
      break
  }
}

/** Which of the {@link KEYS} the key string from `start` (its quote) to `end` is, or OTHER. */
function keyOf(text: string, start: number, end: number): number {
  if (escaped) {
    const code = KEYS.indexOf(JSON.parse(text.slice(start, end)) as string)
    return code === -1 ? OTHER : code
  }
  switch (end - start - 2) {
    case 2:
      return word(text, start, ID)
    case 4:
      return word(text, start, NAME)
    case 6:
      return word(text, start, SENDER)
    case 7:
      return word(text, start, PAYLOAD) || word(text, start, TIMEOUT)
    case 8:
      return word(text, start, INSTANCE)
    case 9:
      return word(text, start, PROTO) || word(text, start, PROTOTYPE)
    case 10:
      return word(text, start, RESPONSE_TO) || word(text, start, TRACESTATE)
    case 11:
      return word(text, start, TRACEPARENT) || word(text, start, CONSTRUCTOR)
    default:
      return OTHER
  }
}

/** `key` when the key string at `start` (its quote) is that key's word, else OTHER. */
function word(text: string, start: number, key: number): number {
  return text.startsWith(KEYS[key]!, start + 1) ? key : OTHER
}

/**
 * Steps over the JSON value at `index` and returns where it ends, or FAILED when it is not
 * well-formed, nests deeper than MAX_SCAN_DEPTH, or holds a prototype key. `ofConstructor`:
 * the value is that of a `constructor` key. Walks with a stack, never recursing.
 */
function skipValue(text: string, index: number, ofConstructor: boolean): number {
  let depth = 0
  // The kind an object starting next would be.
  let objectKind = ofConstructor ? CONSTRUCTOR_OBJECT : OBJECT
  for (;;) {
    const char = text.charCodeAt(index)
    if (char === QUOTE) {
      index = skipString(text, index)
      if (index === FAILED) return FAILED
    } else if (char === OPEN_OBJECT || char === OPEN_ARRAY) {
      index = skipSpace(text, index + 1)
      if (text.charCodeAt(index) === (char === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY)) {
        index++
      } else {
        if (depth === MAX_SCAN_DEPTH) return FAILED
        const kind = char === OPEN_ARRAY ? ARRAY : objectKind
        STACK[depth++] = kind
        index = kind === ARRAY ? index : skipKey(text, index, kind)
        if (index === FAILED) return FAILED
        objectKind = kind === ARRAY ? OBJECT : keyKind
        continue
      }
    } else if (char === MINUS || (char >= ZERO && char <= NINE)) {
      index = skipNumber(text, index)
      if (index === FAILED) return FAILED
    } else if (char === LOWER_T && text.startsWith('true', index)) index += 4
    else if (char === LOWER_F && text.startsWith('false', index)) index += 5
    else if (char === LOWER_N && text.startsWith('null', index)) index += 4
    else return FAILED
    // A value ended: it closes what it ends, up to the next value.
    for (;;) {
      if (depth === 0) return index
      index = skipSpace(text, index)
      const kind = STACK[depth - 1]!
      const next = text.charCodeAt(index)
      if (next === COMMA) {
        index = skipSpace(text, index + 1)
        if (kind === ARRAY) objectKind = OBJECT
        else {
          index = skipKey(text, index, kind)
          if (index === FAILED) return FAILED
          objectKind = keyKind
        }
        break
      }
      if (next !== (kind === ARRAY ? CLOSE_ARRAY : CLOSE_OBJECT)) return FAILED
      depth--
      index++
    }
  }
}

/**
 * Steps over a key of an object of `kind` and its colon, and returns where its value starts,
 * or FAILED. Sets `keyKind`. Refuses the keys secure-json-parse refuses: `__proto__`, and
 * `prototype` in the value of a `constructor` key.
 */
function skipKey(text: string, index: number, kind: number): number {
  if (text.charCodeAt(index) !== QUOTE) return FAILED
  const end = skipString(text, index)
  if (end === FAILED) return FAILED
  keyKind = OBJECT
  const length = end - index - 2
  // Only these three words matter in a payload: other keys are not even compared.
  if (escaped || length === 9 || length === 11) {
    const key = keyOf(text, index, end)
    if (key === PROTO || (key === PROTOTYPE && kind === CONSTRUCTOR_OBJECT)) return FAILED
    if (key === CONSTRUCTOR) keyKind = CONSTRUCTOR_OBJECT
  }
  index = skipSpace(text, end)
  if (text.charCodeAt(index) !== COLON) return FAILED
  return skipSpace(text, index + 1)
}

/** Steps over the string at `index` (its opening quote); sets `escaped`. */
function skipString(text: string, index: number): number {
  escaped = false
  let at = index + 1
  // A loop steps over short runs of plain characters (keys, ids, text full of escapes); after
  // SHORT_RUN of them in a row, the regular expression finds the next stop, at memory speed.
  let plain = 0
  for (;;) {
    if (plain === SHORT_RUN) {
      STRING_STOP.lastIndex = at
      if (!STRING_STOP.test(text)) return FAILED
      at = STRING_STOP.lastIndex - 1
      plain = 0
    }
    const char = text.charCodeAt(at)
    if (char === QUOTE) return at + 1
    if (char === BACKSLASH) {
      escaped = true
      const after = text.charCodeAt(at + 1)
      if (after === LOWER_U) {
        if (
          !(
            isHex(text, at + 2) &&
            isHex(text, at + 3) &&
            isHex(text, at + 4) &&
            isHex(text, at + 5)
          )
        ) {
          return FAILED
        }
        at += 6
      } else if (isShortEscape(after)) at += 2
      else return FAILED
      plain = 0
      continue
    }
    // A control character, which JSON wants escaped; or NaN: the text ended.
    if (!(char >= SPACE)) return FAILED
    at++
    plain++
  }
}

function isHex(text: string, index: number): boolean {
  const char = text.charCodeAt(index)
  if (char >= ZERO && char <= NINE) return true
  // Folded to lower case only for letters: folding first would take the raw control
  // characters U+0010 to U+0019 for the digits 0 to 9.
  const letter = char | 0x20
  return char >= 0x41 && letter >= 0x61 && letter <= LOWER_F
}

/** Steps over the number at `index`: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`. */
function skipNumber(text: string, index: number): number {
  if (text.charCodeAt(index) === MINUS) index++
  const first = text.charCodeAt(index)
  if (first === ZERO) index++
  else if (first > ZERO && first <= NINE) index = skipDigits(text, index + 1)
  else return FAILED
  if (text.charCodeAt(index) === DOT) {
    const digits = index + 1
    index = skipDigits(text, digits)
    if (index === digits) return FAILED
  }
  const exponent = text.charCodeAt(index)
  if (exponent === LOWER_E || exponent === UPPER_E) {
    index++
    const sign = text.charCodeAt(index)
    if (sign === PLUS || sign === MINUS) index++
    const digits = index
    index = skipDigits(text, digits)
    if (index === digits) return FAILED
  }
  return index
}

function skipDigits(text: string, index: number): number {
  for (;;) {
    const char = text.charCodeAt(index)
    // Written so that NaN, past the end of the text, ends the digits too.
    if (!(char >= ZERO && char <= NINE)) return index
    index++
  }
}

/** `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`. */
function isShortEscape(char: number): boolean {
  return (
    char === QUOTE ||
    char === BACKSLASH ||
    char === 0x2f ||
    char === 0x62 ||
    char === LOWER_F ||
    char === LOWER_N ||
    char === 0x72 ||
    char === LOWER_T
  )
}

function skipSpace(text: string, index: number): number {
  for (;;) {
    const char = text.charCodeAt(index)
    if (char !== SPACE && char !== LF && char !== CR && char !== TAB) return index
    index++
  }
}
