/** `exoservice landscape`: not written yet. Resolves with the exit code. */
export async function landscapeCommand(_args: string[]): Promise<number> {
  process.stderr.write('exoservice landscape: not written yet\n')
  return 1
}
