import { describeValue, MAX_NAME_LENGTH } from './envelope.js'
import { ErrorCodes, InvalidArgumentError } from './errors.js'

/**
 * The handlers a relay runs, by message name. Checks are made in the original relay's order
 * (name, then handler, then duplicates), and a failed check registers nothing.
 */
export class HandlerRegistry<Handler extends (...args: any[]) => unknown> {
  readonly #handlers = new Map<string, Handler>()

  register(name: unknown, handler: unknown): void {
    if (name === undefined || name === null || name === '') {
      throw new InvalidArgumentError(
        ErrorCodes.INVALID_NAME,
        `registerHandler needs a message name, got ${describeValue(name)}.`,
      )
    }
    if (typeof name !== 'string') {
      throw new InvalidArgumentError(
        ErrorCodes.INVALID_NAME,
        `Message names must be strings, got ${describeValue(name)}.`,
      )
    }
    if (name.length > MAX_NAME_LENGTH) {
      throw new InvalidArgumentError(
        ErrorCodes.INVALID_NAME,
        `Message names must be at most ${MAX_NAME_LENGTH} characters, got ${describeValue(name)}.`,
      )
    }
    if (handler === undefined || handler === null) {
      throw new InvalidArgumentError(
        ErrorCodes.INVALID_HANDLER,
        `No message handler provided for message '${name}'.`,
      )
    }
    if (typeof handler !== 'function') {
      throw new InvalidArgumentError(
        ErrorCodes.INVALID_HANDLER,
        `The handler for message '${name}' must be a function, got ${describeValue(handler)}.`,
      )
    }
    if (this.#handlers.has(name)) {
      throw new InvalidArgumentError(
        ErrorCodes.DUPLICATE_HANDLER,
        `There is already a handler for message '${name}'.`,
      )
    }
    this.#handlers.set(name, handler as Handler)
  }

  has(name: string): boolean {
    return this.#handlers.has(name)
  }

  get(name: string): Handler | undefined {
    return this.#handlers.get(name)
  }

  /** The names with a handler, in registration order. */
  names(): string[] {
    return [...this.#handlers.keys()]
  }
}
