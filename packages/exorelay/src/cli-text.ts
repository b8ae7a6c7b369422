import { styleText } from 'node:util'

// Text from the network on a terminal: names come from whoever registered or sent, and a
// control character in one (an escape sequence) must not reach the terminal as one.

/** `text` with each control character written as `\u001b` instead. */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point.
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (char) => {
    return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`
  })
}

type Style = Parameters<typeof styleText>[0]

/** Styles text when `colour` says so; the caller decides once whether its output is a terminal. */
export function paint(colour: boolean, style: Style, text: string): string {
  // The stream check of newer Nodes is off: `colour` already says what the output takes.
  return colour ? styleText(style, text, { validateStream: false }) : text
}

/** Whether stdout shows colours: a terminal that has them (NO_COLOR, FORCE_COLOR respected). */
export function stdoutHasColours(): boolean {
  return process.stdout.isTTY === true && process.stdout.hasColors()
}
