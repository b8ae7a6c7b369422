import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import os from 'node:os'

/** Where and how the figures were measured, so that a reader can reproduce them. */
export interface MachineInfo {
  readonly cpu: string
  readonly cores: number
  readonly memoryGiB: number
  readonly os: string
  readonly node: string
  readonly natsServer: string | undefined
  readonly date: string
  readonly command: string
  /**
   * 1-, 5- and 15-minute load averages when the run started and ended: other processes
   * competing for the cores move absolute figures more than ratios.
   */
  readonly loadAverage: { readonly start: readonly number[]; readonly end?: readonly number[] }
}

/** Describes this machine; `command` is how the run was started. */
export function machineInfo(command: string, natsServerBinary: string | undefined): MachineInfo {
  return {
    cpu: cpuModel(),
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    natsServer: natsServerBinary === undefined ? undefined : natsServerVersion(natsServerBinary),
    date: new Date().toISOString(),
    command,
    loadAverage: { start: loadAverage() },
  }
}

/** The same description, with the load averages at the end of the run added. */
export function atEnd(machine: MachineInfo): MachineInfo {
  return { ...machine, loadAverage: { ...machine.loadAverage, end: loadAverage() } }
}

function loadAverage(): number[] {
  return os.loadavg().map((value) => Math.round(value * 100) / 100)
}

function cpuModel(): string {
  try {
    // /proc/cpuinfo names the model even where os.cpus() comes back empty (some containers).
    const model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]
    if (model !== undefined) return model.trim()
  } catch {
    // Not Linux: fall back to what Node knows.
  }
  return os.cpus()[0]?.model ?? 'unknown'
}

function natsServerVersion(binary: string): string | undefined {
  try {
    return execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim()
  } catch {
    return undefined
  }
}
