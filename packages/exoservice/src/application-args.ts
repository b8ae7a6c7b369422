import { type ParseArgsOptionsConfig, parseArgs } from 'node:util'
import { APPLICATION_FILE_NAME } from './application-file.js'

/** The flags a command's options declare, as parsed: strings, or booleans. */
export type ParsedFlags<O extends ParseArgsOptionsConfig> = {
  [K in keyof O]?: O[K]['type'] extends 'string' ? string : boolean
}

/** Where a command writes: the process's streams, or a test's. */
export interface CommandOutput {
  stdout: { write(text: string): unknown }
  stderr: { write(text: string): unknown }
}

/**
 * The arguments of a command that takes an application file (`landscape`, `check`,
 * `asyncapi`): its flags and the file (default `application.yml`). Prints the usage to `out`
 * and resolves with the exit code instead for `--help` (0) and for wrong usage (2: an unknown
 * flag, two files).
 */
export function parseApplicationArgs<O extends ParseArgsOptionsConfig>(
  command: string,
  usage: string,
  args: string[],
  options: O,
  out: CommandOutput = process,
): { values: ParsedFlags<O>; file: string } | number {
  let parsed: { values: Record<string, unknown>; positionals: string[] }
  try {
    parsed = parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    })
    if (parsed.positionals.length > 1)
      throw new Error(`expected one application file, got ${parsed.positionals.length}`)
  } catch (error) {
    out.stderr.write(`exoservice ${command}: ${(error as Error).message}\n\n${usage}`)
    return 2
  }
  if (parsed.values.help === true) {
    out.stdout.write(usage)
    return 0
  }
  return {
    values: parsed.values as ParsedFlags<O>,
    file: parsed.positionals[0] ?? APPLICATION_FILE_NAME,
  }
}
