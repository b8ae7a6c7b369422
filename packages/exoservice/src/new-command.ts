/** `exoservice new`: not written yet. Resolves with the exit code. */
export async function newCommand(_args: string[]): Promise<number> {
  process.stderr.write('exoservice new: not written yet\n')
  return 1
}
