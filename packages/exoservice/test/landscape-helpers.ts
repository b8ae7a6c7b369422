import { readdir, readFile } from 'node:fs/promises'
import { setTimeout } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { ExoRelay } from 'exorelay'

/** The folder of a landscape fixture's application file. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`fixtures/landscape/${name}/application.yml`, import.meta.url))
}

/** A relay of the test itself on the landscape's bus, closed after the test. */
export async function testRelay(
  t: { after: (fn: () => Promise<void>) => void },
  busPort: number,
  options: { token?: string } = {},
): Promise<ExoRelay> {
  const relay = new ExoRelay({
    serviceName: 'tester',
    exocomPort: busPort,
    port: 0,
    logger: false,
    ...options,
  })
  await relay.listen()
  t.after(() => relay.close())
  return relay
}

/**
 * The pids of the processes whose environment holds `marker` (Linux: /proc). A process this
 * user cannot read, or that ends while it is read, does not count.
 */
export async function processesWith(marker: string): Promise<number[]> {
  const found: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const environ = await readFile(`/proc/${entry}/environ`, 'latin1').catch(() => '')
    if (environ.includes(marker)) found.push(Number(entry))
  }
  return found
}

/**
 * Resolves once no process has the pid any more. No event says so for a process that is not
 * this one's child: it polls, until the deadline.
 */
export async function gone(pid: number, timeout: number): Promise<void> {
  const deadline = Date.now() + timeout
  for (;;) {
    try {
      process.kill(pid, 0)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return
      throw error
    }
    if (Date.now() > deadline) throw new Error(`process ${pid} is still there after ${timeout} ms`)
    await setTimeout(50)
  }
}
