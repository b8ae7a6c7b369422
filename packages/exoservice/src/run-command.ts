/** `exoservice run`: not written yet. Resolves with the exit code. */
export async function runCommand(_args: string[]): Promise<number> {
  process.stderr.write('exoservice run: not written yet\n')
  return 1
}
